#pragma once
// Building the server's responses: every route answers through these, so errors look alike
// (a JSON object with a short fixed "error").

#include <utility>

#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "gateway/server.hpp"

namespace flowgate::gateway {

inline http_response make_response(boost::beast::http::status status,
                                   std::string content_type,
                                   std::string body) {
    http_response res{status, 11};
    res.set(boost::beast::http::field::content_type, content_type);
    res.set(boost::beast::http::field::server, "flowgate");
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

inline http_response json_response(boost::beast::http::status status, const nlohmann::json& body) {
    return make_response(status, "application/json", body.dump());
}

inline http_response error_response(boost::beast::http::status status, std::string_view reason) {
    return json_response(status, nlohmann::json{{"error", reason}});
}

inline http_response method_not_allowed(std::string_view allow) {
    auto res = error_response(boost::beast::http::status::method_not_allowed, "method not allowed");
    res.set(boost::beast::http::field::allow, std::string(allow));
    return res;
}

}  // namespace flowgate::gateway
