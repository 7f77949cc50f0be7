package strategy

import (
	"fmt"
	"path/filepath"
	"strings"

	"go.starlark.net/starlark"
)

// Check builds the strategy of cfg as New does, without starting it: it reads every
// row of a csv feed, compiles the script, runs its top level with output discarded
// and checks its hooks. It returns a one-line summary of the strategy, or every
// problem New finds.
func Check(cfg *Config) (string, error) {
	r, err := New(cfg, nil)
	if err != nil {
		return "", err
	}
	return r.Summary(), nil
}

// Summary describes the strategy in one line: its file, instruments, feed and hooks,
// e.g. "strategy sma_cross.star, 2 instruments (BTCUSDT, ETHUSDT), synthetic feed of
// 1m bars, one every 1s, seed 42, hooks on_start, on_bar".
func (r *Runtime) Summary() string {
	syms := r.cfg.Instruments
	names := strings.Join(syms, ", ")
	if len(syms) > 6 {
		names = strings.Join(syms[:5], ", ") + ", …"
	}
	instruments := fmt.Sprintf("%d instruments (%s)", len(syms), names)
	if len(syms) == 1 {
		instruments = "1 instrument (" + names + ")"
	}

	f := r.cfg.Feed
	pace := "as fast as possible"
	if f.Interval > 0 {
		pace = "one every " + f.Interval.String()
	}
	feed := fmt.Sprintf("synthetic feed of %s bars, %s, seed %d",
		shortDuration(f.Timeframe.String()), pace, f.Seed)
	if f.Kind == FeedCSV {
		feed = fmt.Sprintf("csv feed %s, %d bar times, %s", filepath.Base(f.Path),
			r.feed.length(), pace)
	}

	var hooks []string
	for _, h := range []string{HookStart, HookBar, HookFill, HookStop} {
		if _, ok := r.globals[h]; ok {
			hooks = append(hooks, h)
		}
	}
	hookList := "no hooks"
	if len(hooks) > 0 {
		hookList = "hooks " + strings.Join(hooks, ", ")
	}
	return fmt.Sprintf("strategy %s, %s, %s, %s", filepath.Base(r.cfg.Strategy),
		instruments, feed, hookList)
}

// shortDuration drops the zero units of a time.Duration's text: 1m0s is 1m.
func shortDuration(s string) string {
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// hookArgs is how many arguments the runtime passes to each hook.
var hookArgs = map[string]int{HookStart: 1, HookBar: 2, HookFill: 2, HookStop: 1}

// checkHooks reports each hook the script defines that the runtime could not call:
// not a function, or not taking the arguments it is given.
func (r *Runtime) checkHooks() error {
	var problems []string
	for _, h := range []string{HookStart, HookBar, HookFill, HookStop} {
		v, ok := r.globals[h]
		if !ok || v == starlark.None {
			continue
		}
		fn, ok := v.(*starlark.Function)
		if !ok {
			if _, callable := v.(starlark.Callable); !callable {
				problems = append(problems, fmt.Sprintf("%s: %s must be a function, got %s",
					r.cfg.Strategy, h, v.Type()))
			}
			continue
		}
		if !acceptsArgs(fn, hookArgs[h]) {
			problems = append(problems, fmt.Sprintf("%s: %s must take %s, as in %s",
				fn.Position(), h, plural(hookArgs[h], "argument"), HookDocs[h]))
		}
	}
	if len(problems) > 0 {
		return &scriptErr{text: strings.Join(problems, "\n")}
	}
	return nil
}

// acceptsArgs reports whether fn can be called with n positional arguments.
func acceptsArgs(fn *starlark.Function, n int) bool {
	positional := fn.NumParams() - fn.NumKwonlyParams()
	if fn.HasVarargs() {
		positional--
	}
	if fn.HasKwargs() {
		positional--
	}
	required := 0
	for i := range positional {
		if fn.ParamDefault(i) == nil {
			required = i + 1
		}
	}
	for i := positional; i < positional+fn.NumKwonlyParams(); i++ {
		if fn.ParamDefault(i) == nil {
			return false // a keyword-only parameter the runtime never passes
		}
	}
	return required <= n && (n <= positional || fn.HasVarargs())
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
