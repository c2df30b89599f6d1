#include "client/http_errors.h"

#include <string>

#include <nlohmann/json.hpp>

#include "client/text.h"
#include "common/strings.h"

namespace cairn::client {
namespace {

constexpr size_t kMaxQuotedBody = 200;

// Parses "NOT_FOUND" and friends; false for anything else.
bool ParseCanonicalCode(std::string_view name, absl::StatusCode* code) {
  for (int i = 1; i <= 16; ++i) {
    auto candidate = static_cast<absl::StatusCode>(i);
    if (absl::StatusCodeToString(candidate) == name) {
      *code = candidate;
      return true;
    }
  }
  return false;
}

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
  switch (http_status) {
    case 400: return absl::StatusCode::kInvalidArgument;
    case 401: return absl::StatusCode::kUnauthenticated;
    case 403: return absl::StatusCode::kPermissionDenied;
    case 404: return absl::StatusCode::kNotFound;
    case 409: return absl::StatusCode::kAlreadyExists;
    case 412: return absl::StatusCode::kFailedPrecondition;
    case 416: return absl::StatusCode::kOutOfRange;
    case 429: return absl::StatusCode::kResourceExhausted;
    case 501: return absl::StatusCode::kUnimplemented;
    case 502:
    case 503:
    case 504: return absl::StatusCode::kUnavailable;
    case 507: return absl::StatusCode::kResourceExhausted;
    default: break;
  }
  if (http_status >= 400 && http_status < 500) {
    return absl::StatusCode::kFailedPrecondition;
  }
  return absl::StatusCode::kInternal;
}

absl::Status StatusFromHttpReply(int http_status, std::string_view body) {
  absl::StatusCode code = CodeFromHttpStatus(http_status);
  std::string message;
  nlohmann::json parsed = nlohmann::json::parse(body.begin(), body.end(),
                                                nullptr, false);
  if (parsed.is_object() && parsed.contains("error") &&
      parsed["error"].is_object()) {
    const nlohmann::json& error = parsed["error"];
    if (error.contains("code") && error["code"].is_string()) {
      ParseCanonicalCode(error["code"].get<std::string>(), &code);
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
