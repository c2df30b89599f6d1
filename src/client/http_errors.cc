#include "client/http_errors.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "client/text.h"
#include "common/api_errors.h"
#include "common/strings.h"

namespace cairn::client {
namespace {

constexpr size_t kMaxQuotedBody = 200;

std::string QuoteBody(std::string_view body) {
  std::string_view text = StripWhitespace(body);
  size_t newline = text.find('\n');
  if (newline != std::string_view::npos) text = text.substr(0, newline);
  if (text.size() > kMaxQuotedBody) {
    return cairn::StrCat(text.substr(0, kMaxQuotedBody), "...");
  }
  return std::string(text);
}

}  // namespace

absl::StatusCode CodeFromHttpStatus(int http_status) {
  if (std::optional<absl::StatusCode> code = CodeForApiHttpStatus(http_status)) return *code;
  // Statuses the gateway never sends, from proxies in front of it.
  switch (http_status) {
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 501:
      return absl::StatusCode::kUnimplemented;
    case 502:
    case 504:
      return absl::StatusCode::kUnavailable;
    default:
      break;
  }
  if (http_status >= 400 && http_status < 500) {
    return absl::StatusCode::kFailedPrecondition;
  }
  return absl::StatusCode::kInternal;
}

absl::Status StatusFromHttpReply(int http_status, std::string_view body) {
  absl::StatusCode code = CodeFromHttpStatus(http_status);
  std::string message;
  nlohmann::json parsed = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
  if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object()) {
    const nlohmann::json& error = parsed["error"];
    if (error.contains("code") && error["code"].is_string()) {
      std::optional<absl::StatusCode> named = CodeForApiErrorName(error["code"].get<std::string>());
      if (named.has_value()) code = *named;
    }
    if (error.contains("message") && error["message"].is_string()) {
      message = error["message"].get<std::string>();
    }
  }
  if (message.empty()) {
    message = cairn::StrCat("HTTP ", http_status);
    std::string quoted = QuoteBody(body);
    if (!quoted.empty()) cairn::StrAppend(&message, ": ", quoted);
  }
  if (code == absl::StatusCode::kOk) code = absl::StatusCode::kUnknown;
  return absl::Status(code, message);
}

}  // namespace cairn::client
