// Command vigil is the security incident and audit logging pipeline: one
// binary whose subcommands run each stage (see 'vigil help').
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vigil-audit/vigil/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.OSEnv())
	stop()
	os.Exit(code)
}
