// The terminal page of stratd: one xterm.js terminal on one WebSocket, which the
// daemon runs the same REPL on as it does for SSH sessions.
//
// The socket carries the terminal's bytes both ways (binary messages) and a few
// JSON control messages from here: resize and ping. When the socket drops
// without the person having detached, the page reconnects by itself, backing off
// up to maxDelay, and attaches to the same kernel again; the kernel replays its
// transcript, so nothing is lost but what was typed and not yet sent.
"use strict";

(() => {
  const maxDelay = 15000; // ms between reconnection attempts, at most
  const pingEvery = 15000; // ms between pings while connected
  const pongWithin = 10000; // ms a pong may take before the socket counts as dead

  // Close codes the daemon uses (see web/terminal.go).
  const closeNormal = 1000;
  const closeNoKernel = 4404;

  const $ = (id) => document.getElementById(id);
  const body = document.body;
  const kernelMenu = $("kernel");

  const term = new Terminal({
    convertEol: true, // the REPL writes \n and expects the terminal to return too
    cursorBlink: true,
    fontFamily: "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace",
    fontSize: 14,
    scrollback: 0, // the REPL keeps its own scrollback, on the alternate screen
    theme: { background: "#16181d", foreground: "#d7dae0" },
  });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open($("terminal"));
  fit.fit();
  term.focus();

  let kernel = new URLSearchParams(location.search).get("kernel") || "";
  let ws = null; // the socket, while open or opening
  let attempts = 0; // failed connection attempts in a row
  let retry = null; // the timer of the next attempt
  let pinger = null;
  let pongDue = null;
  let ended = false; // the person detached: wait for them before attaching again

  // Input: keys, paste and mouse reports all arrive as terminal data.
  const encoder = new TextEncoder();
  term.onData((data) => {
    if (ended) {
      if (data === "\r") attach();
      return;
    }
    send(encoder.encode(data));
  });
  term.onBinary((data) => {
    const bytes = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 0xff;
    send(bytes);
  });
  term.onResize(({ cols, rows }) => control({ type: "resize", cols, rows }));
  term.onTitleChange((title) => { document.title = title || "stratd"; });

  // Ctrl+C copies while text is selected (Shift+drag selects, as the REPL takes
  // the mouse), and Ctrl+V pastes: both are left to the browser instead of going
  // to the REPL as control keys.
  term.attachCustomKeyEventHandler((ev) => {
    if (ev.type !== "keydown" || !(ev.ctrlKey || ev.metaKey) || ev.altKey || ev.shiftKey) {
      return true;
    }
    const key = ev.key.toLowerCase();
    if (key === "c" && term.hasSelection()) return false;
    return key !== "v";
  });
  new ResizeObserver(() => fit.fit()).observe($("terminal"));

  function send(bytes) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(bytes);
  }

  function control(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  function setState(state, text) {
    body.dataset.state = state;
    $("status").textContent = text;
  }

  function notice(text, button) {
    $("notice-text").textContent = text;
    $("notice-button").hidden = !button;
    if (button) $("notice-button").textContent = button;
    $("notice").hidden = false;
  }

  function hideNotice() {
    $("notice").hidden = true;
  }

  class LoggedOut extends Error {}

  async function loadKernels() {
    const r = await fetch("/api/kernels", { cache: "no-store" });
    if (r.status === 401) throw new LoggedOut();
    if (!r.ok) throw new Error(`kernel list: ${r.status}`);
    return r.json();
  }

  function showKernels(info) {
    $("who").textContent = `${info.person.name} (${info.person.role})`;
    kernelMenu.replaceChildren();
    for (const k of info.kernels) {
      const opt = document.createElement("option");
      opt.value = k.name;
      opt.textContent = `${k.name} · ${k.strategy} · ${k.state}`;
      kernelMenu.append(opt);
    }
    kernelMenu.disabled = info.kernels.length < 2;
    if (info.kernels.some((k) => k.name === kernel)) kernelMenu.value = kernel;
  }

  // remember puts the kernel in the address, so a reload or a bookmark comes back
  // to it.
  function remember(name) {
    kernel = name;
    const url = new URL(location.href);
    url.searchParams.set("kernel", name);
    history.replaceState(null, "", url);
  }

  // attach connects this tab to the kernel chosen, after checking that the
  // person is still logged in and the kernel still runs.
  async function attach() {
    clearTimeout(retry);
    drop();
    ended = false;
    hideNotice();
    setState("connecting", "connecting…");
    let info;
    try {
      info = await loadKernels();
    } catch (err) {
      if (err instanceof LoggedOut) {
        setState("logged-out", "logged out");
        notice("Your session has ended (the daemon restarted, or the token was revoked). " +
          "Open a new login link: the daemon prints one at start, and " +
          "`stratd keys token` makes named ones.", "");
        return;
      }
      reconnectLater();
      return;
    }
    showKernels(info);
    if (info.kernels.length === 0) {
      setState("idle", "no kernels");
      notice("No kernels are running. Start one with `kernel start CONFIG` over SSH, " +
        "then attach.", "attach");
      return;
    }
    if (!kernel) remember(info.kernels[0].name);
    if (!info.kernels.some((k) => k.name === kernel)) {
      setState("idle", "kernel not running");
      notice(`Kernel "${kernel}" is not running. Pick one from the menu above.`, "");
      return;
    }
    connect();
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const q = new URLSearchParams({ kernel, cols: term.cols, rows: term.rows });
    const sock = new WebSocket(`${scheme}://${location.host}/ws?${q}`);
    sock.binaryType = "arraybuffer";
    ws = sock;

    sock.onopen = () => {
      attempts = 0;
      term.reset(); // the new session draws its screen from scratch
      body.dataset.connects = String(Number(body.dataset.connects) + 1);
      setState("connected", `attached to ${kernel}`);
      pinger = setInterval(ping, pingEvery);
      term.focus();
    };
    sock.onmessage = (e) => {
      if (typeof e.data === "string") {
        if (JSON.parse(e.data).type === "pong") clearTimeout(pongDue);
        return;
      }
      term.write(new Uint8Array(e.data));
    };
    sock.onclose = (e) => {
      if (ws !== sock) return; // dropped on purpose
      stopPinging();
      ws = null;
      if (e.code === closeNormal && e.reason === "detached") {
        ended = true;
        setState("detached", "detached");
        notice(`Detached from ${kernel}; it keeps running. Press Enter to attach again.`,
          "attach again");
        return;
      }
      if (e.code === closeNoKernel) {
        setState("idle", "kernel not running");
        notice(e.reason || `Kernel "${kernel}" is not running.`, "attach");
        return;
      }
      reconnectLater();
    };
  }

  function ping() {
    control({ type: "ping" });
    clearTimeout(pongDue);
    pongDue = setTimeout(() => {
      drop(); // no answer: the network is gone, whatever the socket says
      reconnectLater();
    }, pongWithin);
  }

  function stopPinging() {
    clearInterval(pinger);
    clearTimeout(pongDue);
  }

  // drop forgets the socket without reacting to its closing.
  function drop() {
    stopPinging();
    const sock = ws;
    ws = null;
    if (sock) sock.close();
  }

  function reconnectLater() {
    const delay = Math.min(maxDelay, 500 * 2 ** attempts) * (0.8 + 0.4 * Math.random());
    attempts++;
    setState(navigator.onLine ? "reconnecting" : "offline",
      `connection lost; reconnecting in ${Math.ceil(delay / 1000)}s`);
    clearTimeout(retry);
    retry = setTimeout(attach, delay);
  }

  kernelMenu.addEventListener("change", () => {
    remember(kernelMenu.value);
    attach();
  });
  // The list changes as kernels start and stop: refresh it when it is opened.
  kernelMenu.addEventListener("focus", () => loadKernels().then(showKernels, () => {}));
  $("notice-button").addEventListener("click", attach);
  window.addEventListener("online", () => {
    if (!ws && !ended && body.dataset.state !== "logged-out") attach();
  });
  $("terminal").addEventListener("click", () => term.focus());

  // For tests and the curious: the terminal and its screen as text.
  window.stratd = {
    term,
    screen() {
      const buf = term.buffer.active;
      const lines = [];
      for (let i = 0; i < term.rows; i++) {
        const line = buf.getLine(buf.viewportY + i);
        lines.push(line ? line.translateToString(true) : "");
      }
      return lines.join("\n");
    },
  };

  attach();
})();
