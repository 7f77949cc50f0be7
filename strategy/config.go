package strategy

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is a loaded, validated strategy config.
type Config struct {
	Path        string // absolute path of the YAML file
	Name        string
	Description string
	Strategy    string // absolute path of the Starlark file
	Parameters  map[string]any
	Instruments []string
	Feed        FeedConfig
	Account     AccountConfig
	Kernel      KernelConfig
}

// FeedConfig says where bars come from.
type FeedConfig struct {
	Kind      string        // synthetic | csv
	Timeframe time.Duration // bar length in market time
	Interval  time.Duration // wall-clock time between bars; 0 = as fast as possible
	Seed      int64
	Path      string // csv: absolute path
}

// AccountConfig sets up the paper account.
type AccountConfig struct {
	Capital     float64
	FeeBps      float64
	SlippageBps float64
}

// KernelConfig tunes the kernel that runs this strategy.
type KernelConfig struct {
	History  int    // entries kept in memory for replay
	MaxSteps uint64 // Starlark steps allowed for one input or hook call; 0 = no limit
}

// Feed kinds.
const (
	FeedSynthetic = "synthetic"
	FeedCSV       = "csv"
)

// Defaults applied by LoadConfig to keys the file leaves out.
const (
	DefaultTimeframe = time.Minute
	DefaultInterval  = time.Second
	DefaultSeed      = 1
	DefaultCapital   = 10000
	DefaultHistory   = 1000
	DefaultMaxSteps  = 100_000_000
)

var namePattern = regexp.MustCompile(`^[a-z0-9_-]+$`)

// Known keys of each mapping in a config file, in the order a reader expects them.
var (
	topKeys = []string{
		"name", "description", "strategy", "parameters", "instruments", "feed", "account", "kernel",
	}
	feedKeys    = []string{"kind", "timeframe", "interval", "seed", "path"}
	accountKeys = []string{"capital", "fee_bps", "slippage_bps"}
	kernelKeys  = []string{"history", "max_steps"}
)

// LoadConfig reads and validates a config file. All problems found are reported
// together in one error, one per line, each as "FILE:LINE: message".
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}

	l := &configLoader{dir: filepath.Dir(abs)}
	cfg := l.load(data)
	if len(l.problems) > 0 {
		slices.SortStableFunc(l.problems, func(a, b problem) int { return a.line - b.line })
		msgs := make([]string, len(l.problems))
		for i, p := range l.problems {
			msgs[i] = fmt.Sprintf("%s:%d: %s", path, p.line, p.msg)
		}
		return nil, errors.New(strings.Join(msgs, "\n"))
	}
	cfg.Path = abs
	return cfg, nil
}

// configLoader walks the YAML node tree, filling a Config and collecting problems.
type configLoader struct {
	dir      string // absolute folder of the config, for relative paths
	problems []problem
}

// problem is one thing wrong with a config file.
type problem struct {
	line int
	msg  string
}

func (l *configLoader) addf(line int, format string, args ...any) {
	l.problems = append(l.problems, problem{line, fmt.Sprintf(format, args...)})
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (l *configLoader) load(data []byte) *Config {
	cfg := &Config{
		Parameters: map[string]any{},
		Feed: FeedConfig{
			Kind:      FeedSynthetic,
			Timeframe: DefaultTimeframe,
			Interval:  DefaultInterval,
			Seed:      DefaultSeed,
		},
		Account: AccountConfig{Capital: DefaultCapital},
		Kernel:  KernelConfig{History: DefaultHistory, MaxSteps: DefaultMaxSteps},
	}

	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			l.addf(line, "%s", m[2])
		} else {
			l.addf(1, "%s", strings.TrimPrefix(msg, "yaml: "))
		}
		return cfg
	}
	if len(doc.Content) == 0 {
		l.addf(1, "empty config; want a mapping with name, strategy and instruments")
		return cfg
	}

	root := doc.Content[0]
	top := l.mapping(root, "", topKeys)
	if top == nil {
		return cfg
	}
	for _, key := range []string{"name", "strategy", "instruments"} {
		if _, ok := top[key]; !ok {
			l.addf(root.Line, "missing %s", key)
		}
	}

	if n := top["name"]; n != nil {
		if s, ok := l.scalar(n, "name", "a kernel name"); ok {
			if !namePattern.MatchString(s) {
				l.addf(n.Line, "name %q: use only a-z, 0-9, _ and -", s)
			}
			cfg.Name = s
		}
	}
	if n := top["description"]; n != nil && n.ShortTag() != "!!null" {
		cfg.Description, _ = l.scalar(n, "description", "a line of text")
	}
	if n := top["strategy"]; n != nil {
		if s, ok := l.scalar(n, "strategy", "the path of a .star file"); ok {
			cfg.Strategy = l.existingFile(n, "strategy", s)
		}
	}
	if n := top["parameters"]; n != nil && n.ShortTag() != "!!null" {
		cfg.Parameters = l.parameters(n)
	}
	if n := top["instruments"]; n != nil {
		cfg.Instruments = l.instruments(n)
	}
	if n := top["feed"]; n != nil {
		l.feed(n, &cfg.Feed, cfg.Instruments)
	}
	if n := top["account"]; n != nil {
		l.account(n, &cfg.Account)
	}
	if n := top["kernel"]; n != nil {
		l.kernel(n, &cfg.Kernel)
	}
	return cfg
}

// mapping checks that n is a mapping with string keys from known, reports the others,
// and returns the values by key. It returns nil when n is not a mapping.
func (l *configLoader) mapping(n *yaml.Node, path string, known []string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		if n.ShortTag() == "!!null" && path != "" {
			return map[string]*yaml.Node{}
		}
		where := strings.TrimSuffix(path, ".")
		if where == "" {
			where = "config"
		}
		l.addf(n.Line, "%s: want a mapping, got %s", where, describe(n))
		return nil
	}
	values := make(map[string]*yaml.Node, len(n.Content)/2)
	seen := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if first, dup := seen[k.Value]; dup {
			l.addf(k.Line, "%s%s is set twice (first on line %d)", path, k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		if !contains(known, k.Value) {
			hint := suggest(k.Value, known)
			if hint == "" {
				hint = elsewhere(k.Value, path)
			}
			l.addf(k.Line, "unknown key %q%s%s", path+k.Value, hint, knownList(path, known))
			continue
		}
		values[k.Value] = v
	}
	return values
}

// sections are the mappings of a config and their keys, for elsewhere.
var sections = map[string][]string{
	"": topKeys, "feed.": feedKeys, "account.": accountKeys, "kernel.": kernelKeys,
}

// elsewhere says where a key that is unknown at path belongs, if another section
// has it: `; it belongs under account:`.
func elsewhere(key, path string) string {
	for _, section := range []string{"", "feed.", "account.", "kernel."} {
		if section == path || !contains(sections[section], key) {
			continue
		}
		if section == "" {
			return "; it belongs at the top level, not under " + strings.TrimSuffix(path, ".")
		}
		return "; it belongs under " + strings.TrimSuffix(section, ".") + ":"
	}
	return ""
}

func knownList(path string, known []string) string {
	if path == "" {
		return ""
	}
	return fmt.Sprintf(" (%s keys: %s)", strings.TrimSuffix(path, "."), strings.Join(known, ", "))
}

func (l *configLoader) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		l.addf(n.Line, "%s: want %s, got %s", path, want, describe(n))
		return "", false
	}
	return n.Value, true
}

func (l *configLoader) integer(n *yaml.Node, path string) (int64, bool) {
	var i int64
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" && n.Decode(&i) == nil {
		return i, true
	}
	// Accept whole floats such as 1e8; yaml would truncate 1.5 to 1 silently.
	var f float64
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" && n.Decode(&f) == nil &&
		f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f), true
	}
	l.addf(n.Line, "%s: want a whole number, got %s", path, describe(n))
	return 0, false
}

func (l *configLoader) number(n *yaml.Node, path string) (float64, bool) {
	var v float64
	if n.Kind != yaml.ScalarNode || n.Decode(&v) != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		l.addf(n.Line, "%s: want a number, got %s", path, describe(n))
		return 0, false
	}
	return v, true
}

func (l *configLoader) duration(n *yaml.Node, path string) (time.Duration, bool) {
	s, ok := l.scalar(n, path, "a duration like 200ms, 1s or 1m")
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		l.addf(n.Line, "%s: bad duration %q; write it like 200ms, 1s, 1m or 1h", path, s)
		return 0, false
	}
	if d < 0 {
		l.addf(n.Line, "%s: duration %s is negative", path, s)
		return 0, false
	}
	return d, true
}

// existingFile resolves a path relative to the config's folder and checks it names
// a readable regular file.
func (l *configLoader) existingFile(n *yaml.Node, path, name string) string {
	abs := name
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(l.dir, name)
	}
	st, err := os.Stat(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		l.addf(n.Line, "%s: file %s not found (looked for %s)", path, name, abs)
	case err != nil:
		l.addf(n.Line, "%s: %v", path, err)
	case st.IsDir():
		l.addf(n.Line, "%s: %s is a folder, want a file", path, abs)
	}
	return abs
}

func (l *configLoader) instruments(n *yaml.Node) []string {
	if n.Kind != yaml.SequenceNode {
		l.addf(n.Line, "instruments: want a list of symbols like [BTCUSDT], got %s", describe(n))
		return nil
	}
	if len(n.Content) == 0 {
		l.addf(n.Line, "instruments: the list is empty; name at least one symbol")
		return nil
	}
	var syms []string
	for _, item := range n.Content {
		s, ok := l.scalar(item, "instruments", "a symbol")
		if !ok {
			continue
		}
		switch {
		case s == "" || strings.ContainsAny(s, " \t,"):
			l.addf(item.Line, "instruments: bad symbol %q", s)
		case contains(syms, s):
			l.addf(item.Line, "instruments: %s is listed twice", s)
		default:
			syms = append(syms, s)
		}
	}
	return syms
}

func (l *configLoader) feed(n *yaml.Node, f *FeedConfig, instruments []string) {
	m := l.mapping(n, "feed.", feedKeys)
	if m == nil {
		return
	}
	if v := m["kind"]; v != nil {
		if s, ok := l.scalar(v, "feed.kind", "synthetic or csv"); ok {
			if s != FeedSynthetic && s != FeedCSV {
				l.addf(v.Line, "feed.kind: unknown kind %q; want synthetic or csv%s",
					s, suggest(s, []string{FeedSynthetic, FeedCSV}))
			}
			f.Kind = s
		}
	}
	if v := m["timeframe"]; v != nil {
		if d, ok := l.duration(v, "feed.timeframe"); ok {
			if d == 0 {
				l.addf(v.Line, "feed.timeframe: must be more than 0, e.g. 1m")
			}
			f.Timeframe = d
		}
	}
	if v := m["interval"]; v != nil {
		if d, ok := l.duration(v, "feed.interval"); ok {
			f.Interval = d
		}
	}
	if v := m["seed"]; v != nil {
		if s, ok := l.integer(v, "feed.seed"); ok {
			f.Seed = s
		}
	}
	if v := m["path"]; v != nil {
		if s, ok := l.scalar(v, "feed.path", "the path of a .csv file"); ok {
			f.Path = l.csvPath(v, s, instruments)
		}
	}
	if f.Kind == FeedCSV && m["path"] == nil {
		l.addf(n.Line, "feed: a csv feed needs a path: a .csv file, or a pattern with "+
			"%s for a file per instrument, e.g. data/%s_1m.csv", SymbolPlaceholder,
			SymbolPlaceholder)
	}
}

var placeholder = regexp.MustCompile(`\{[^}]*\}`)

// csvPath checks a csv feed's path: one file, or a pattern with {symbol} naming a file
// per instrument, each of which must exist. It returns the absolute path or pattern.
func (l *configLoader) csvPath(n *yaml.Node, path string, instruments []string) string {
	for _, p := range placeholder.FindAllString(path, -1) {
		if p != SymbolPlaceholder {
			l.addf(n.Line, "feed.path: unknown placeholder %s; the only one is %s", p,
				SymbolPlaceholder)
			return path
		}
	}
	if !strings.Contains(path, SymbolPlaceholder) {
		return l.existingFile(n, "feed.path", path)
	}
	for _, sym := range instruments {
		l.existingFile(n, "feed.path ("+sym+")", strings.ReplaceAll(path, SymbolPlaceholder, sym))
	}
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(l.dir, path)
}

func (l *configLoader) account(n *yaml.Node, a *AccountConfig) {
	m := l.mapping(n, "account.", accountKeys)
	if m == nil {
		return
	}
	if v := m["capital"]; v != nil {
		if x, ok := l.number(v, "account.capital"); ok {
			if x <= 0 {
				l.addf(v.Line, "account.capital: must be more than 0")
			}
			a.Capital = x
		}
	}
	if v := m["fee_bps"]; v != nil {
		if x, ok := l.number(v, "account.fee_bps"); ok {
			if x < 0 {
				l.addf(v.Line, "account.fee_bps: must not be negative")
			}
			a.FeeBps = x
		}
	}
	if v := m["slippage_bps"]; v != nil {
		if x, ok := l.number(v, "account.slippage_bps"); ok {
			if x < 0 {
				l.addf(v.Line, "account.slippage_bps: must not be negative")
			}
			a.SlippageBps = x
		}
	}
}

func (l *configLoader) kernel(n *yaml.Node, k *KernelConfig) {
	m := l.mapping(n, "kernel.", kernelKeys)
	if m == nil {
		return
	}
	if v := m["history"]; v != nil {
		if x, ok := l.integer(v, "kernel.history"); ok {
			if x <= 0 || x > math.MaxInt32 {
				l.addf(v.Line, "kernel.history: must be more than 0, e.g. 1000")
			}
			k.History = int(x)
		}
	}
	if v := m["max_steps"]; v != nil {
		if x, ok := l.integer(v, "kernel.max_steps"); ok {
			if x < 0 {
				l.addf(v.Line, "kernel.max_steps: must not be negative (0 means no limit)")
			}
			k.MaxSteps = uint64(max(x, 0))
		}
	}
}

// parameters converts the parameters mapping to Go values: string, int64, float64,
// bool, nil, []any and map[string]any.
func (l *configLoader) parameters(n *yaml.Node) map[string]any {
	if n.Kind != yaml.MappingNode {
		l.addf(n.Line, "parameters: want a mapping like {fast: 10}, got %s", describe(n))
		return map[string]any{}
	}
	v, _ := l.paramValue(n, "parameters").(map[string]any)
	return v
}

func (l *configLoader) paramValue(n *yaml.Node, path string) any {
	switch n.Kind {
	case yaml.AliasNode:
		return l.paramValue(n.Alias, path)
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			list = append(list, l.paramValue(item, fmt.Sprintf("%s[%d]", path, i)))
		}
		return list
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				l.addf(k.Line, "%s: keys must be names, got %s", path, describe(k))
				continue
			}
			m[k.Value] = l.paramValue(v, path+"."+k.Value)
		}
		return m
	}

	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return i
		}
		var f float64
		if n.Decode(&f) == nil {
			return f
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil {
			return f
		}
	case "!!str":
		return n.Value
	}
	l.addf(n.Line, "%s: unsupported value %s", path, describe(n))
	return nil
}

// describe names what a node holds, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.ShortTag() == "!!null" {
		return "nothing"
	}
	return strconv.Quote(n.Value)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns `; did you mean "x"?` for the known word closest to word, or "" when
// none is close enough to be a plausible typo.
func suggest(word string, known []string) string {
	best, bestDist := "", math.MaxInt
	for _, k := range known {
		if d := editDistance(strings.ToLower(word), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" || bestDist > max(2, len(best)/3) {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// editDistance is the Levenshtein distance between a and b, counted in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
