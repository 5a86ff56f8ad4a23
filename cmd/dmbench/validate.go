package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dmbench/dmbench/scenarios"
)

func newValidateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE|NAME...",
		Short: "Check scenario files (full and short) without starting any load",
		Long: "validate checks each scenario file or bundled name, in full and with its short overlay, and\n" +
			"prints every problem as file:line:col: field: message. It exits 2 when any is invalid.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := scenarios.Validate(args...); err != nil {
				fmt.Fprintln(c.ErrOrStderr(), err)
				return &exitError{code: exitUsage, err: fmt.Errorf("%d scenario(s) checked: not valid", len(args))}
			}
			fmt.Fprintf(c.OutOrStdout(), "%d scenario(s) valid\n", len(args))
			return nil
		},
	}
}

func newScenariosCommand() *cobra.Command {
	var show string
	c := &cobra.Command{
		Use:   "scenarios",
		Short: "List the bundled scenarios (--show NAME prints one's file)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if show != "" {
				src, err := scenarios.BundledSource(show)
				if err != nil {
					return usageError(err)
				}
				_, err = c.OutOrStdout().Write(src)
				return err
			}
			for _, s := range scenarios.Bundled() {
				fmt.Fprintf(c.OutOrStdout(), "%-18s %s\n", s.Name, s.Description)
			}
			return nil
		},
	}
	c.Flags().StringVar(&show, "show", "", "print the bundled scenario `NAME`'s YAML")
	return c
}
