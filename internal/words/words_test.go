package words

import "testing"

func TestPlural(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{{0, "0 runs"}, {1, "1 run"}, {2, "2 runs"}}
	for _, tt := range tests {
		if got := Plural(tt.n, "run", "runs"); got != tt.want {
			t.Errorf("Plural(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestListSome(t *testing.T) {
	tests := []struct {
		names []string
		n     int
		want  string
	}{
		{nil, 3, ""},
		{[]string{"a", "b"}, 3, "a, b"},
		{[]string{"a", "b", "c", "d"}, 2, "a, b and 2 more"},
	}
	for _, tt := range tests {
		if got := ListSome(tt.names, tt.n); got != tt.want {
			t.Errorf("ListSome(%v, %d) = %q, want %q", tt.names, tt.n, got, tt.want)
		}
	}
}

func TestNotes(t *testing.T) {
	tests := []struct {
		notes []string
		want  string
	}{
		{nil, ""},
		{[]string{"", "b"}, "b"},
		{[]string{"a", ""}, "a"},
		{[]string{"a", "", "c"}, "a; c"},
	}
	for _, tt := range tests {
		if got := Notes(tt.notes...); got != tt.want {
			t.Errorf("Notes(%q) = %q, want %q", tt.notes, got, tt.want)
		}
	}
}
