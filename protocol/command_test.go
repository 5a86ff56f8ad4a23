package protocol

import "testing"

func TestCommands(t *testing.T) {
	if len(Commands) != 10 {
		t.Fatalf("%d commands, want 10", len(Commands))
	}
	for _, c := range Commands {
		if len(c) != 8 || !c.Known() || string(c.Bytes()) != string(c) {
			t.Errorf("command %q: len %d, known %v, bytes %q", c, len(c), c.Known(), c.Bytes())
		}
	}
	if Command("GROUPADX").Known() {
		t.Error("GROUPADX is known")
	}
}

func TestExpectedReply(t *testing.T) {
	tests := []struct {
		req  Command
		want Command
	}{
		{GroupAdd, Complete},
		{GroupDiscard, Complete},
		{Flush, Complete},
		{Print, Complete},
		{Heartbeat, Heartbeat},
		{Performance, PerformanceReport},
		// Commands a client does not send have no expected reply.
		{Complete, ""},
		{Exception, ""},
		{PerformanceReport, ""},
		{FlushClient, ""},
		{"GROUPADX", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := tt.req.ExpectedReply(); got != tt.want {
			t.Errorf("Command(%q).ExpectedReply() = %q, want %q", tt.req, got, tt.want)
		}
	}
	// Every request command has a reply, and it is a known command.
	for _, c := range RequestCommands {
		if r := c.ExpectedReply(); !r.Known() {
			t.Errorf("request %q: ExpectedReply %q is not a known command", c, r)
		}
	}
}
