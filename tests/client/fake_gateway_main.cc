// cairn_fake_gateway: serves the in-memory FakeGateway on 127.0.0.1 with an
// OS-chosen port until SIGTERM or SIGINT, so the CLI round-trip test can run
// without a cluster. Prints "listening on http 127.0.0.1:PORT" when ready.
// Also serves the dashboard at /ui/ (when built with it) over fake data.
#include <signal.h>

#include <cstdio>

#include "client/fake_gateway.h"

int main() {
  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  cairn::client::testing::FakeGateway gateway;
  int port = gateway.Start();
  if (port < 0) {
    std::fprintf(stderr, "cairn_fake_gateway: cannot bind 127.0.0.1\n");
    return 1;
  }
  std::printf("listening on http 127.0.0.1:%d\n", port);
  std::fflush(stdout);
  int received = 0;
  sigwait(&stop_signals, &received);
  gateway.Stop();
  return 0;
}
