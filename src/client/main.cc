// `cairn`: command-line client of the Cairn gateway.
#include <csignal>

#include "client/cli.h"

int main(int argc, char** argv) {
  // Broken pipes and sockets come back as EPIPE and are reported properly.
  std::signal(SIGPIPE, SIG_IGN);
  return cairn::client::RunCli(argc, argv);
}
