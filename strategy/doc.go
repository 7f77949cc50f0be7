// Package strategy is what a kernel runs: it loads a strategy config, replays or
// simulates a market feed, keeps a paper account, and runs the trader's Starlark script
// with the ctx API.
//
// Where things are:
//
//   - api.go: the types and constants the kernel sees (Output, Bar, Order, Snapshot…).
//   - config.go: LoadConfig, which reports every problem of a YAML config at once.
//   - check.go: Check, for `stratd check`, and the hooks' signatures.
//   - feed.go: the synthetic random walk and the csv replay (one file, or one per
//     instrument with {symbol} in feed.path).
//   - broker.go: the paper account and its fills.
//   - runtime.go: Runtime, the interpreter and the hooks; complete.go: Tab completion.
//   - ctx.go: the ctx object and CtxDocs; values.go: bars, series, orders… as Starlark
//     values; helpers.go: portfolio(), orders(), sma, ema, rsi, sum, round;
//     help.go: help() and HookDocs.
//   - state.go: saving and restoring the account across daemon restarts.
//   - bench_test.go: sma_cross over a million bars, in Starlark and in Go.
//
// # Speed
//
// A hook runs on every bar, so the path from the feed to on_bar avoids allocation
// where Starlark allows: hooks reuse one thread, a bar handed to on_bar points into
// the history instead of copying its fields, ctx.ohlc returns a view of the history
// whose .close column needs no copy, and sma, ema and rsi read that column as it is.
//
// # Concurrency
//
// A Runtime belongs to one goroutine, the kernel loop, and has no locks. The one
// exception is Cancel, which any goroutine may call to stop the Starlark code that runs
// now (an interrupt). A Cancel that arrives when nothing runs does nothing.
//
// # Interpreter
//
// Every input and every hook call runs in a fresh Starlark thread with the step limit of
// kernel.max_steps; print() and ctx.log() become entries naming the person whose input
// ran, or "strategy" for hooks, and so do the orders that code places and their fills.
// The strategy file and the REPL share one global environment that is never frozen,
// and hooks are looked up by name at each call, so the REPL can redefine on_bar and
// the next bar uses it. Starlark binds a function's globals when the chunk defining it
// runs, though: rebinding a plain global in the REPL ("size = 2") does not change what
// functions from the file see. Live settings belong in ctx.params or another dict.
//
// A hook that fails becomes an error entry and the strategy goes on; after
// MaxHookFailures failures in a row the hooks are paused until ctx.resume().
//
// # Paper broker
//
// Market orders fill at the next bar's open, moved against the trader by slippage_bps;
// limit orders rest until a bar trades through their price and fill at it (or at the
// open, when the bar opens beyond it). Fees are fee_bps of the notional, paid from
// cash. Positions may be long or short and there is no margin check, so cash may go
// negative. Equity is always cash plus the market value (quantity × last price) of the
// positions; realised PnL is before fees.
package strategy
