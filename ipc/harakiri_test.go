package ipc

import "testing"

func TestUserHarakiriHoldsForItsRequestOnly(t *testing.T) {
	b, err := CreateScoreboard(2, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const now = 10_000_000_000
	if _, _, ok := b.UserHarakiri(0, now); ok {
		t.Fatal("an empty slot has a user harakiri")
	}
	// Set outside a request: holds until reset.
	b.SetWorker(0, WkUserHarakiri, now-5)
	if over, _, ok := b.UserHarakiri(0, now); !ok || over != 5 {
		t.Fatalf("outside a request: %d %v", over, ok)
	}
	b.SetWorker(0, WkUserHarakiri, now+5)
	if _, _, ok := b.UserHarakiri(0, now); ok {
		t.Fatal("a deadline in the future expired")
	}
	// Set in core 1's request number 7.
	b.SetCore(0, 1, CoreRequests, 7)
	b.SetCore(0, 1, CoreInRequest, 1)
	b.SetWorker(0, WkUserHarakiriReq, UserHarakiriTag(1, 7))
	b.SetWorker(0, WkUserHarakiri, now-1)
	if _, where, ok := b.UserHarakiri(0, now); !ok || where != "core 1" {
		t.Fatalf("in its request: %q %v", where, ok)
	}
	b.SetCore(0, 1, CoreRequests, 8) // the request ended
	b.SetCore(0, 1, CoreInRequest, 0)
	if _, _, ok := b.UserHarakiri(0, now); ok {
		t.Fatal("the deadline of a finished request expired")
	}
	b.SetCore(0, 1, CoreInRequest, 1) // the next request on that core
	if _, _, ok := b.UserHarakiri(0, now); ok {
		t.Fatal("the deadline of a finished request held for the next one")
	}
	b.SetWorker(0, WkUserHarakiriReq, UserHarakiriTag(5, 8)) // a core the board does not have
	if _, _, ok := b.UserHarakiri(0, now); ok {
		t.Fatal("a tag naming a core past the board expired")
	}
}
