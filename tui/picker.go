package tui

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/stratd/stratd/kernel"
)

// PickerItem is one kernel in the Picker's list.
type PickerItem struct {
	Name     string
	Strategy string
	State    kernel.State
	Equity   float64
	PnL      float64
	Attached int // people attached now
}

// PickerItemFromStatus describes a kernel by its status.
func PickerItemFromStatus(st kernel.Status) PickerItem {
	return PickerItem{
		Name:     st.Name,
		Strategy: st.Strategy,
		State:    st.State,
		Equity:   st.Account.Equity,
		PnL:      st.Account.PnL,
		Attached: len(st.Attached),
	}
}

// AttachFunc attaches the person using the Picker to the named kernel. The Picker
// calls it in a tea.Cmd, never in Update, so it may take a moment.
type AttachFunc func(name string) (kernel.Client, error)

// Picker lists kernels and lets the person choose one. Typing filters the list (by
// name or strategy), Up/Down move, Enter attaches; Esc clears the filter or quits,
// Ctrl+C and Ctrl+D quit. Once attached, the Picker hands every message
// to the REPL Model of the kernel picked, so the program carries on with the same
// root model; detaching from that kernel ends the program.
//
// Run it with tea.NewProgram; after the program returns, call Close.
type Picker struct {
	items  []PickerItem
	attach AttachFunc
	opts   Options

	filter    []rune // what the person typed to narrow the list
	shown     []int  // indexes into items of the kernels the filter matches
	cursor    int    // index into shown
	attaching string // the kernel being attached to, while the call runs
	err       string // why the last attach failed

	inner *Model // the REPL, once attached

	mu      sync.Mutex // protects the fields below; attach Cmds run concurrently
	closed  bool
	pending kernel.Client // attached but not yet handed to a Model
}

// NewPicker returns a Picker over items (sorted by name) that attaches with attach;
// opts configures the Model made for the kernel picked.
func NewPicker(items []PickerItem, attach AttachFunc, opts Options) *Picker {
	items = append([]PickerItem(nil), items...)
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	p := &Picker{items: items, attach: attach, opts: opts}
	p.refilter()
	if opts.Context != nil {
		// The Model made later watches the context itself; until then, a session
		// that ends mid-attach must not leave the kernel's client attached.
		context.AfterFunc(opts.Context, p.dropPending)
	}
	return p
}

// attachedMsg is the result of an AttachFunc call.
type attachedMsg struct {
	name   string
	client kernel.Client
	err    error
}

// Model returns the REPL of the kernel picked, or nil before one is attached.
func (p *Picker) Model() *Model { return p.inner }

// Close closes the REPL of the kernel picked, if any, and detaches a client whose
// attach finished too late to be used. Call it after the program returns.
func (p *Picker) Close() {
	p.dropPending()
	if p.inner != nil {
		p.inner.Close()
	}
}

// dropPending stops the Picker from taking any more clients, and detaches one that
// was attached but never handed to a Model.
func (p *Picker) dropPending() {
	p.mu.Lock()
	p.closed = true
	c := p.pending
	p.pending = nil
	p.mu.Unlock()

	if c != nil {
		c.Detach()
	}
}

// Init does nothing: the list is drawn from the items given.
func (p *Picker) Init() tea.Cmd { return nil }

// Update handles one message; after attaching it forwards everything to the REPL.
func (p *Picker) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if p.inner != nil {
		_, cmd := p.inner.Update(msg)
		return p, cmd
	}

	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		resized := p.opts.Width > 0 && (p.opts.Width != msg.Width || p.opts.Height != msg.Height)
		p.opts.Width, p.opts.Height = msg.Width, msg.Height
		if resized {
			return p, repaintAfterResize
		}
	case attachedMsg:
		return p, p.onAttached(msg)
	case tea.KeyPressMsg:
		return p, p.onKey(msg)
	}
	return p, nil
}

func (p *Picker) onKey(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "ctrl+c", "ctrl+d":
		return tea.Quit
	case "esc":
		if len(p.filter) == 0 {
			return tea.Quit
		}
		p.filter = nil
		p.refilter()
	case "up", "ctrl+p":
		p.cursor = max(0, p.cursor-1)
	case "down", "ctrl+n":
		p.cursor = max(0, min(len(p.shown)-1, p.cursor+1))
	case "home", "pgup":
		p.cursor = 0
	case "end", "pgdown":
		p.cursor = max(0, len(p.shown)-1)
	case "backspace", "ctrl+h":
		if n := len(p.filter); n > 0 {
			p.filter = p.filter[:n-1]
			p.refilter()
		}
	case "ctrl+u":
		p.filter = nil
		p.refilter()
	case "enter":
		if p.attaching != "" || len(p.shown) == 0 {
			return nil
		}
		p.attaching, p.err = p.items[p.shown[p.cursor]].Name, ""
		return p.attachCmd(p.attaching)
	default:
		if k.Text != "" && k.Mod&^(tea.ModShift|tea.ModCapsLock) == 0 {
			p.filter = append(p.filter, []rune(cleanLine(k.Text))...)
			p.refilter()
		}
	}
	return nil
}

// refilter recomputes the kernels shown for the filter, keeping the cursor on the
// same kernel when it is still listed.
func (p *Picker) refilter() {
	current := -1
	if p.cursor < len(p.shown) {
		current = p.shown[p.cursor]
	}
	want := strings.ToLower(string(p.filter))
	p.shown = p.shown[:0]
	p.cursor = 0
	for i, it := range p.items {
		if want != "" && !strings.Contains(strings.ToLower(it.Name), want) &&
			!strings.Contains(strings.ToLower(it.Strategy), want) {
			continue
		}
		if i == current {
			p.cursor = len(p.shown)
		}
		p.shown = append(p.shown, i)
	}
}

func (p *Picker) attachCmd(name string) tea.Cmd {
	attach := p.attach
	return func() tea.Msg {
		c, err := attach(name)
		if err != nil {
			return attachedMsg{name: name, err: err}
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.closed {
			c.Detach() // the program ended while attaching
			return nil
		}
		p.pending = c
		return attachedMsg{name: name, client: c}
	}
}

func (p *Picker) onAttached(msg attachedMsg) tea.Cmd {
	p.attaching = ""
	if msg.err != nil {
		p.err = fmt.Sprintf("attach %s: %v", msg.name, msg.err)
		return nil
	}
	p.mu.Lock()
	mine := p.pending == msg.client
	p.pending = nil
	ended := p.opts.Context != nil && p.opts.Context.Err() != nil
	p.closed = p.closed || ended
	p.mu.Unlock()
	switch {
	case !mine:
		return nil // the session ended meanwhile and the client is detached
	case ended:
		msg.client.Detach()
		return nil
	}

	p.inner = New(msg.client, p.opts)
	return p.inner.Init()
}

// View draws the list, or the REPL once attached.
// Frame is View with the lines apart (screen.Framer).
func (p *Picker) Frame() ([]string, tea.View) {
	if p.inner != nil {
		return p.inner.Frame()
	}
	v := p.View()
	lines := strings.Split(v.Content, "\n")
	v.Content = ""
	return lines, v
}

func (p *Picker) View() tea.View {
	if p.inner != nil {
		return p.inner.View()
	}
	v := tea.NewView(p.render())
	v.AltScreen = true
	v.WindowTitle = "stratd"
	v.Cursor = p.cursorPos()
	return v
}

func (p *Picker) render() string {
	w, h := p.opts.Width, p.opts.Height
	if w <= 0 || h <= 0 {
		return ""
	}

	top := []string{styleTitle.Render(pad(fmt.Sprintf(" stratd · pick a kernel (%d running)",
		len(p.items)), w)), p.filterLine()}
	var status string
	switch {
	case p.attaching != "":
		status = styleDim.Render("attaching to " + p.attaching + "…")
	case p.err != "":
		status = styleError.Render(p.err)
	}
	bottom := []string{status,
		styleDim.Render("type to filter · ↑/↓ choose · Enter attach · Esc clear/quit")}

	lines := append([]string(nil), top...)
	switch {
	case len(p.items) == 0:
		lines = append(lines, styleDim.Render("  no kernels are running"))
	case len(p.shown) == 0:
		lines = append(lines, styleDim.Render("  no kernel matches; Esc clears the filter"))
	default:
		// The first row is the heading; the rest scroll to keep the cursor in view.
		rows := p.rows()
		n := max(0, h-len(top)-len(bottom)-1)
		first := min(max(0, p.cursor-n+1), max(0, len(rows)-1-n))
		lines = append(lines, rows[0])
		lines = append(lines, rows[1+first:min(len(rows), 1+first+n)]...)
	}
	for len(lines) < h-len(bottom) {
		lines = append(lines, "")
	}
	lines = append(lines, bottom...)
	lines = lines[:min(h, len(lines))]
	for i, l := range lines {
		lines[i] = fit(l, w)
	}
	return strings.Join(lines, "\n")
}

// filterLine shows what is typed to filter the list, where the cursor sits.
func (p *Picker) filterLine() string {
	if len(p.filter) == 0 {
		return styleDim.Render(" filter: type part of a name")
	}
	return " filter: " + sanitize(string(p.filter))
}

// cursorPos is where the terminal cursor goes: at the end of the filter.
func (p *Picker) cursorPos() *tea.Cursor {
	if p.opts.Height < 2 || p.opts.Width <= 0 {
		return nil
	}
	x := ansi.StringWidth(" filter: " + sanitize(string(p.filter)))
	if len(p.filter) == 0 {
		x = len(" filter: ")
	}
	return tea.NewCursor(min(x, p.opts.Width-1), 1)
}

// rows renders the table: a heading, then one row per kernel shown, the cursor's
// marked. Columns are as wide as the whole list needs, so filtering does not make
// them jump.
func (p *Picker) rows() []string {
	cells := [][]cell{{{text: "NAME"}, {text: "STRATEGY"}, {text: "STATE"},
		{text: "EQUITY", right: true}, {text: "PNL", right: true},
		{text: "ATTACHED", right: true}}}
	for _, it := range p.items {
		cells = append(cells, []cell{
			{text: sanitize(it.Name)}, {text: sanitize(it.Strategy)},
			stateCell(it.State), {text: fmtMoney(it.Equity), right: true},
			signedMoney(it.PnL), {text: fmt.Sprint(it.Attached), right: true},
		})
	}
	all := table(cells, "")
	lines := []string{"  " + all[0]}
	for row, i := range p.shown {
		mark := "  "
		if row == p.cursor {
			mark = styleSelected.Render("▸ ")
		}
		lines = append(lines, mark+all[1+i])
	}
	return lines
}

// stateCell is a kernel state coloured as in the REPL's header.
func stateCell(st kernel.State) cell {
	s := lipgloss.NewStyle()
	switch st {
	case kernel.StateRunning:
		s = styleBuy
	case kernel.StatePaused, kernel.StateStarting:
		s = styleWarn
	case kernel.StateStopped:
		s = styleSell
	}
	return cell{text: string(st), style: &s}
}

func signedMoney(v float64) cell {
	s := pnlStyle(v)
	return cell{text: fmtSigned(v), style: &s, right: true}
}
