#include "gateway/router.h"

#include <utility>

namespace cairn::gateway {
namespace {

// The handler runs on the thread that reads the request and later logs it.
thread_local std::string current_label = "other";

// `handler`, first noting `label` as the current request's route.
template <typename... Args>
std::function<void(Args...)> Labelled(std::string label, std::function<void(Args...)> handler) {
  return [label = std::move(label), handler = std::move(handler)](Args... args) {
    current_label = label;
    handler(args...);
  };
}

std::string LabelFor(const std::string& pattern, std::string label) {
  return label.empty() ? Router::LabelOf(pattern) : std::move(label);
}

}  // namespace

std::string Router::LabelOf(const std::string& pattern) {
  return pattern.substr(0, pattern.find_first_of("([{.*+?^$|\\"));
}

void Router::Get(const std::string& pattern, httplib::Server::Handler handler, std::string label) {
  server_->Get(pattern, Labelled(LabelFor(pattern, std::move(label)), std::move(handler)));
}

void Router::Post(const std::string& pattern, httplib::Server::Handler handler, std::string label) {
  server_->Post(pattern, Labelled(LabelFor(pattern, std::move(label)), std::move(handler)));
}

void Router::Delete(const std::string& pattern, httplib::Server::Handler handler,
                    std::string label) {
  server_->Delete(pattern, Labelled(LabelFor(pattern, std::move(label)), std::move(handler)));
}

void Router::Put(const std::string& pattern, httplib::Server::HandlerWithContentReader handler,
                 std::string label) {
  server_->Put(pattern, Labelled(LabelFor(pattern, std::move(label)), std::move(handler)));
}

const std::string& Router::CurrentLabel() { return current_label; }

void Router::Reset() { current_label = "other"; }

}  // namespace cairn::gateway
