// Command loyalty is the loyalty-points backend: the HTTP API, the POS file
// ingest and the operator tools, one binary with subcommands.
package main

import "os"

func main() { os.Exit(run(os.Args[1:])) }
