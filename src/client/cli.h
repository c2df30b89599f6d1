// The `cairn` command line: parses arguments, runs one subcommand against
// the gateway and reports failures on stderr.
#ifndef CAIRN_CLIENT_CLI_H_
#define CAIRN_CLIENT_CLI_H_

namespace cairn::client {

// Runs the CLI and returns the process exit code (see exit_codes.h). Reads
// CAIRN_GATEWAY and NO_COLOR from the environment; writes results to stdout
// and messages and progress to stderr.
int RunCli(int argc, char** argv);

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_CLI_H_
