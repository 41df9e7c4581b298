package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// withCPUProfile gives cmd the hidden flag --cpuprofile FILE: when it is
// set, a CPU profile (pprof format) of the whole command is written to FILE
// as the command returns. It measures propwatch's own cost (see
// bench/overhead.sh); it is not a user feature, hence hidden.
//
// newRunCmd wires it with `return withCPUProfile(cmd)`.
func withCPUProfile(cmd *cobra.Command) *cobra.Command {
	var path string
	cmd.Flags().StringVar(&path, "cpuprofile", "", "write a CPU profile (pprof) of the command to `FILE`")
	_ = cmd.Flags().MarkHidden("cpuprofile")
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if path == "" {
			return run(c, args)
		}
		f, err := os.Create(path)
		if err != nil {
			return &exitError{code: exitUsage, msg: fmt.Sprintf("cpu profile: %v", err)}
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return &exitError{code: exitProblem, msg: fmt.Sprintf("cpu profile: %v", err)}
		}
		err = run(c, args)
		pprof.StopCPUProfile()
		if cerr := f.Close(); cerr != nil && err == nil {
			err = &exitError{code: exitProblem, msg: fmt.Sprintf("cpu profile: %v", cerr)}
		}
		return err
	}
	return cmd
}
