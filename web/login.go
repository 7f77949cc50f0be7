package web

import (
	"html/template"
	"io"
)

// loginPage is the 401 page: it says how to get a token, and takes one.
var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>stratd · log in</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<div class="login">
<h1>stratd · log in</h1>
{{with .Why}}<p class="why">{{.}}</p>{{end}}
<p>This page needs a token.</p>
<ul>
<li>When the daemon starts (<code>stratd serve --web ADDR</code> or
<code>stratd run CONFIG --kernel-only --web ADDR</code>) it prints a login link with a
one-time token: open that link.</li>
<li>Anyone else gets a named token from an admin, who runs
<code>stratd keys token --name NAME --role viewer|operator|admin</code> on the
daemon's machine. Open this page with <code>?token=TOKEN</code> added to the address,
or paste the token here:</li>
</ul>
<form method="get" action="/">
<input type="password" name="token" autocomplete="off" placeholder="stratd_…" required>
<button type="submit">log in</button>
</form>
</div>
</body>
</html>
`))

func writeLoginPage(w io.Writer, why string) {
	loginPage.Execute(w, struct{ Why string }{why})
}
