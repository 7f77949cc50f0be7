package strategy

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestAccountStateRoundTrip(t *testing.T) {
	cfg, err := LoadConfig("../examples/sma_cross.yml")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := newRuntime(t, cfg)
	for range 150 {
		a.Step()
	}
	exec(t, a, "alice", "ctx.trade('ETHUSDT', 1, price=100)")
	saved, err := json.Marshal(a.AccountState())
	if err != nil {
		t.Fatal(err)
	}

	var state AccountState
	if err := json.Unmarshal(saved, &state); err != nil {
		t.Fatal(err)
	}
	b, rec := newRuntime(t, cfg)
	if err := b.RestoreAccount(state); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 0 {
		t.Errorf("restoring emitted %v", got)
	}
	if sa, sb := a.Snapshot(), b.Snapshot(); !reflect.DeepEqual(sa, sb) {
		t.Fatalf("restored snapshot differs:\n%+v\n%+v", sa, sb)
	}
	// Both go on the same way, and order ids do not repeat.
	for range 50 {
		a.Step()
		b.Step()
	}
	if sa, sb := a.Snapshot(), b.Snapshot(); !reflect.DeepEqual(sa, sb) {
		t.Errorf("after 50 more bars:\n%+v\n%+v", sa, sb)
	}
	ida := exec(t, a, "alice", "ctx.trade('ETHUSDT', 1).id")
	idb := exec(t, b, "alice", "ctx.trade('ETHUSDT', 1).id")
	if ida != idb {
		t.Errorf("next order id %s after restore, want %s", idb, ida)
	}
}

func TestRestoreAccountRejectsUnknownSymbols(t *testing.T) {
	r, _ := newRuntime(t, testConfig(t, ""))
	err := r.RestoreAccount(AccountState{
		Capital:   10000,
		Positions: []Position{{Symbol: "DOGE", Quantity: 5}},
	})
	if err == nil || !strings.Contains(err.Error(), "position in DOGE") {
		t.Fatalf("error = %v", err)
	}
	if r.Snapshot().Cash != 10000 {
		t.Error("a failed restore changed the account")
	}
}
