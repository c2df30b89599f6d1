// Router: the gateway's routes over httplib, each registered with the label
// its requests carry in metrics. The label is the pattern's literal prefix
// ("/api/v1/files" for "/api/v1/files(.*)") unless given, so metrics follow
// the routes that exist and never carry a file path (an unbounded label).
#ifndef CAIRN_GATEWAY_ROUTER_H_
#define CAIRN_GATEWAY_ROUTER_H_

#include <httplib.h>

#include <string>

namespace cairn::gateway {

class Router {
 public:
  // `server` must outlive the router and the routes it adds.
  explicit Router(httplib::Server* server) : server_(server) {}

  void Get(const std::string& pattern, httplib::Server::Handler handler, std::string label = "");
  void Post(const std::string& pattern, httplib::Server::Handler handler, std::string label = "");
  void Delete(const std::string& pattern, httplib::Server::Handler handler, std::string label = "");
  void Put(const std::string& pattern, httplib::Server::HandlerWithContentReader handler,
           std::string label = "");

  // The label of the route serving this thread's current request, or "other"
  // when none matched. Reset() at the start of each request.
  static const std::string& CurrentLabel();
  static void Reset();

  // The literal prefix of a route pattern: up to its first regex operator.
  static std::string LabelOf(const std::string& pattern);

 private:
  httplib::Server* const server_;
};

}  // namespace cairn::gateway

#endif  // CAIRN_GATEWAY_ROUTER_H_
