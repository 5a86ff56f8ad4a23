package resultfmt

// SetReadLimits lowers the limits Read applies, the size of result.json and of its
// histograms decoded, for a test, and returns what restores them.
func SetReadLimits(size, decoded int64) (restore func()) {
	oldSize, oldDecoded := maxResultSize, maxDecodedSize
	maxResultSize, maxDecodedSize = size, decoded
	return func() { maxResultSize, maxDecodedSize = oldSize, oldDecoded }
}
