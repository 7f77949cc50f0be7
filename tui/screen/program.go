package screen

import (
	"io"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

// Wrap returns a model that behaves as m but draws its views on s. Run it in a
// program made with tea.WithoutRenderer: Bubble Tea asks for the view after every
// message, and the wrapper hands it to s, which writes what changed.
//
// tea.ClearScreen and a change of the window's size redraw the whole terminal.
func Wrap(m tea.Model, s *Screen) tea.Model {
	return &wrapped{m: m, s: s}
}

// clearScreen is the message tea.ClearScreen sends.
var clearScreen = tea.ClearScreen()

type wrapped struct {
	m             tea.Model
	s             *Screen
	width, height int
}

func (w *wrapped) Init() tea.Cmd { return w.m.Init() }

func (w *wrapped) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		if w.width != 0 && (msg.Width != w.width || msg.Height != w.height) {
			w.s.Repaint()
		}
		w.width, w.height = msg.Width, msg.Height
	default:
		if msg == clearScreen {
			w.s.Repaint()
		}
	}
	var cmd tea.Cmd
	w.m, cmd = w.m.Update(msg)
	return w, cmd
}

// Framer is a model that can give its view's lines apart, saving the joining
// and splitting of the whole screen on every frame. lines must be what
// strings.Split(v.Content, "\n") would give, and v.Content is ignored. The
// Screen keeps lines: the model must not change them afterwards.
type Framer interface {
	Frame() (lines []string, v tea.View)
}

// View draws the model's view on the Screen; Bubble Tea gets an empty one, which
// its disabled renderer throws away.
func (w *wrapped) View() tea.View {
	if f, ok := w.m.(Framer); ok {
		lines, v := f.Frame()
		w.s.DrawLines(lines, v, w.width, w.height)
	} else {
		w.s.Draw(w.m.View(), w.width, w.height)
	}
	return tea.View{}
}

// NewProgram makes the program that runs m on a remote terminal: it draws on a
// new Screen writing to out, in colours brought down to profile, and takes what
// is typed from in through ReadInput (started here; it ends when in does). The
// program itself never touches the terminal, installs no signal handlers (they
// belong to the daemon) and cannot be suspended. opts come last: the window
// size and environment, for instance. Close the Screen when the program returns.
func NewProgram(m tea.Model, out io.Writer, in io.Reader, profile colorprofile.Profile,
	opts ...tea.ProgramOption) (*tea.Program, *Screen) {
	scr := New(out, profile)
	p := tea.NewProgram(Wrap(m, scr), append([]tea.ProgramOption{
		tea.WithInput(nil), // ReadInput below
		tea.WithOutput(io.Discard),
		tea.WithoutRenderer(),
		tea.WithFPS(1), // the disabled renderer still ticks; it has nothing to flush
		tea.WithColorProfile(profile),
		tea.WithoutSignalHandler(),
		tea.WithFilter(noSuspend),
	}, opts...)...)
	go ReadInput(in, p.Send)
	return p, scr
}

// noSuspend drops Ctrl+Z: a session cannot suspend the daemon it runs in.
func noSuspend(_ tea.Model, msg tea.Msg) tea.Msg {
	if _, ok := msg.(tea.SuspendMsg); ok {
		return nil
	}
	return msg
}
