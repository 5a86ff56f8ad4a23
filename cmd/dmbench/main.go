// Command dmbench is a load generator and benchmarking tool for the Django Message Broker.
//
// Exit codes:
//
//	0  success
//	1  the command failed (a run could not start, a file could not be written, ...)
//	2  bad usage or an invalid scenario file: nothing was started
//	3  a run did not meet a --threshold (run or report)
//	4  compare found a regression beyond a --fail-on rule
//	5  the server was lost during a run: no client had a connection when the stages ended
//	130 the run was interrupted (Ctrl-C or SIGTERM); the results gathered were written
//
// When several apply to a run, the first of 1, 130, 5, 3 is the exit code.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/dmbench/dmbench/internal/termtext"
	"github.com/dmbench/dmbench/version"

	"github.com/spf13/cobra"
)

// Exit codes, listed in the package doc and the README.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitThreshold   = 3 // a result missed a --threshold objective
	exitRegression  = 4 // compare --fail-on found a regression
	exitServerLost  = 5 // the server was gone when a run's stages ended
	exitInterrupted = 130
)

// exitError carries an exit code up to main, with the message already printed or to print.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as bad input: exit code 2.
func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes the CLI with args and returns the process exit code.
func run(args []string) int {
	root := newRootCommand()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(os.Stderr, "dmbench:", termtext.EscapeLines(ee.err.Error()))
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "dmbench:", termtext.EscapeLines(err.Error())) // errors may quote files and servers
	return exitFailed
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "dmbench",
		Short:         "Load generator and benchmark for the Django Message Broker",
		Version:       version.Read().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Flag errors are usage errors: exit 2 with the usage hint.
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError(fmt.Errorf("%w (see '%s --help')", err, c.CommandPath()))
	})
	root.AddCommand(newRunCommand(), newServeCommand(), newValidateCommand(), newScenariosCommand(), newCompareCommand(), newReportCommand(), newPlotCommand(), newCapacityCommand(), newMergeCommand())
	return root
}
