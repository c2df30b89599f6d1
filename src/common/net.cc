#include "common/net.h"

#include "absl/strings/numbers.h"
#include "common/logging.h"
#include "common/strings.h"

namespace cairn {

absl::StatusOr<HostPort> ParseHostPort(std::string_view text) {
  HostPort hp;
  std::string_view port_text;
  if (text.starts_with("[")) {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return absl::InvalidArgumentError(cairn::StrCat("bad address '", text, "'"));
    }
    hp.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      hp.host = "0.0.0.0";
      port_text = text;
    } else {
      hp.host = std::string(text.substr(0, colon));
      port_text = text.substr(colon + 1);
    }
  }
  if (hp.host.empty()) hp.host = "0.0.0.0";
  if (!absl::SimpleAtoi(ToAbsl(port_text), &hp.port) || hp.port < 0 || hp.port > 65535) {
    return absl::InvalidArgumentError(cairn::StrCat("bad port in address '", text, "'"));
  }
  return hp;
}

absl::StatusOr<GrpcServer> StartGrpcServer(std::string_view listen,
                                           const std::vector<grpc::Service*>& services,
                                           bool announce) {
  auto hp = ParseHostPort(listen);
  if (!hp.ok()) return hp.status();
  grpc::ServerBuilder builder;
  int selected = 0;
  std::string host = hp->host.find(':') != std::string::npos ? "[" + hp->host + "]" : hp->host;
  builder.AddListeningPort(cairn::StrCat(host, ":", hp->port), grpc::InsecureServerCredentials(),
                           &selected);
  builder.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  builder.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  for (grpc::Service* s : services) builder.RegisterService(s);
  GrpcServer out;
  out.server = builder.BuildAndStart();
  if (out.server == nullptr || selected == 0) {
    return absl::UnavailableError(cairn::StrCat("cannot listen on ", listen));
  }
  out.bound = HostPort{hp->host, selected};
  if (announce) AnnounceListening("grpc", hp->host, selected);
  return out;
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  args.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  // Fail fast on a dead peer instead of waiting through long reconnect backoff.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

}  // namespace cairn
