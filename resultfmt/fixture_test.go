package resultfmt_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/dmbench/dmbench/internal/resultfixture"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The shared synthetic runs, under the names the tests use.
var (
	t0          = resultfixture.T0
	spread      = resultfixture.Spread
	fullRun     = resultfixture.FullRun
	fullMeta    = resultfixture.FullMeta
	minimalRun  = resultfixture.MinimalRun
	minimalMeta = resultfixture.MinimalMeta
	synthMeta   = resultfixture.SynthMeta
	synthRun    = resultfixture.SynthRun
	one         = resultfixture.One
)

type (
	fig        = resultfixture.Fig
	synthStage = resultfixture.SynthStage
	synthCmd   = resultfixture.SynthCmd
)
