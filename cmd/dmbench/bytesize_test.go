package main

import "testing"

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int64
		wantErr bool
		shown   string
	}{
		{"65536", 65536, false, "64KiB"},
		{"1MiB", 1 << 20, false, "1MiB"},
		{"512KiB", 512 << 10, false, "512KiB"},
		{"3GiB", 3 << 30, false, "3GiB"},
		{"1000B", 1000, false, "1000B"},
		{"1MB", 0, true, ""},
		{"0", 0, true, ""},
		{"-5KiB", 0, true, ""},
		{"lots", 0, true, ""},
		{"99999999999GiB", 0, true, ""},
	} {
		var b byteSize
		err := b.Set(tc.in)
		if (err != nil) != tc.wantErr || !tc.wantErr && (int64(b) != tc.want || b.String() != tc.shown) {
			t.Errorf("Set(%q) = %d (%s), %v; want %d (%s), error %v", tc.in, int64(b), b.String(), err, tc.want, tc.shown, tc.wantErr)
		}
	}
}
