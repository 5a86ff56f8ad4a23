package report

import (
	"os"
	"syscall"
	"testing"
	"unsafe"
)

// TestTerminalWidthOfTerminal checks that a terminal's own width wins over $COLUMNS, on
// the master side of a pseudo-terminal set to 61 columns.
func TestTerminalWidthOfTerminal(t *testing.T) {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("opening a pseudo-terminal to test with: %v", err)
	}
	defer ptmx.Close()
	t.Setenv("COLUMNS", "95")
	if got := TerminalWidth(ptmx); got != 95 {
		t.Errorf("TerminalWidth of a terminal of no known width = %d, want $COLUMNS, 95", got)
	}
	size := struct{ rows, cols, x, y uint16 }{rows: 24, cols: 61}
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, ptmx.Fd(), syscall.TIOCSWINSZ, uintptr(unsafe.Pointer(&size))); errno != 0 {
		t.Fatalf("setting the pseudo-terminal's size: %v", errno)
	}
	if got := TerminalWidth(ptmx); got != 61 {
		t.Errorf("TerminalWidth of a terminal 61 columns wide = %d, want 61", got)
	}
}
