#include "config/config.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unicode/timezone.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>

#include "flows/calendar.hpp"
#include "flows/duration.hpp"
#include "flows/loader.hpp"
#include "flows/normalize.hpp"
#include "flows/rapidpro.hpp"
#include "handlers/registry.hpp"
#include "handlers/urn.hpp"

namespace flowgate::config {

namespace {

using json = nlohmann::json;

// Collects diagnostics for one file.
class reporter {
   public:
    reporter(std::string file, load_outcome& out) : file_(std::move(file)), out_(out) {}
    void error(std::string pointer, std::string message) {
        out_.errors.push_back({file_, std::move(pointer), std::move(message), false});
    }
    void warn(std::string pointer, std::string message) {
        out_.warnings.push_back({file_, std::move(pointer), std::move(message), true});
    }
    const std::string& file() const { return file_; }

   private:
    std::string file_;
    load_outcome& out_;
};

std::string ptr(const std::string& base, std::string_view key) { return base + "/" + pointer_token(key); }
std::string ptr(const std::string& base, std::size_t index) { return base + "/" + std::to_string(index); }

const char* type_name(const json& v) {
    switch (v.type()) {
        case json::value_t::object:
            return "an object";
        case json::value_t::array:
            return "an array";
        case json::value_t::string:
            return "a string";
        case json::value_t::boolean:
            return "a boolean";
        case json::value_t::null:
            return "null";
        default:
            return "a number";
    }
}

// Reports keys of `obj` not in `allowed` (typos must not pass silently).
void check_keys(const json& obj,
                const std::string& base,
                std::initializer_list<std::string_view> allowed,
                reporter& r) {
    for (const auto& [key, value] : obj.items()) {
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
            r.error(ptr(base, key), "unknown key");
        }
    }
}

const std::string* get_string(const json& obj, std::string_view key, const std::string& base, reporter& r) {
    const auto it = obj.find(key);
    if (it == obj.end()) {
        return nullptr;
    }
    if (!it->is_string()) {
        r.error(ptr(base, key), std::string("must be a string, not ") + type_name(*it));
        return nullptr;
    }
    return &it->get_ref<const std::string&>();
}

std::optional<std::int64_t> get_int(const json& obj,
                                    std::string_view key,
                                    const std::string& base,
                                    std::int64_t min,
                                    std::int64_t max,
                                    reporter& r) {
    const auto it = obj.find(key);
    if (it == obj.end()) {
        return std::nullopt;
    }
    if (!it->is_number_integer() || it->get<std::int64_t>() < min || it->get<std::int64_t>() > max) {
        r.error(ptr(base, key),
                "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
        return std::nullopt;
    }
    return it->get<std::int64_t>();
}

std::optional<std::chrono::seconds> get_duration(const json& obj,
                                                 std::string_view key,
                                                 const std::string& base,
                                                 reporter& r) {
    const std::string* s = get_string(obj, key, base, r);
    if (s == nullptr) {
        return std::nullopt;
    }
    auto d = flows::parse_duration(*s);
    if (!d) {
        r.error(ptr(base, key), "must be a duration like \"30s\", \"5m\" or \"24h\"");
    }
    return d;
}

bool is_http_url(std::string_view s) {
    static const std::regex url(
        R"(^https?://[A-Za-z0-9._~\-]+(:[0-9]{1,5})?(/[^\s]*)?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?(/[^\s]*)?$)");
    return std::regex_match(s.begin(), s.end(), url);
}

// `env:NAME`, `file:PATH` or a literal (warned about). Never echoes the value.
std::optional<std::string> resolve_secret(const std::string& value,
                                          const std::string& pointer,
                                          const environment& env,
                                          reporter& r) {
    if (value.rfind("env:", 0) == 0) {
        const std::string name = value.substr(4);
        auto v = name.empty() ? std::nullopt : env.getenv(name);
        if (!v || v->empty()) {
            r.error(pointer, "environment variable " + name + " is not set");
            return std::nullopt;
        }
        return v;
    }
    if (value.rfind("file:", 0) == 0) {
        const std::string path = value.substr(5);
        auto v = path.empty() ? std::nullopt : env.read_file(path);
        if (!v) {
            r.error(pointer, "cannot read secret file " + path);
            return std::nullopt;
        }
        while (!v->empty() && (v->back() == '\n' || v->back() == '\r')) {
            v->pop_back();
        }
        if (v->empty()) {
            r.error(pointer, "secret file " + path + " is empty");
            return std::nullopt;
        }
        return v;
    }
    if (value.empty()) {
        r.error(pointer, "must not be empty");
        return std::nullopt;
    }
    r.warn(pointer, "secret written in the config; use \"env:NAME\" or \"file:PATH\"");
    return value;
}

std::optional<clock_time> parse_clock(std::string_view s) {
    static const std::regex hhmm(R"(^([01][0-9]|2[0-3]):([0-5][0-9])$)");
    std::match_results<std::string_view::const_iterator> m;
    if (!std::regex_match(s.begin(), s.end(), m, hhmm)) {
        return std::nullopt;
    }
    return clock_time{std::stoi(m[1].str()) * 60 + std::stoi(m[2].str())};
}

// The HTTPS certificate and key, read and checked with OpenSSL so `flowgate check` finds a wrong
// file, a key that is not the certificate's, or a weak key before the server starts.
void load_tls(
    const json& t, const std::string& base, server_config& sc, const environment& env, reporter& r) {
    if (!t.is_object()) {
        r.error(base, "must be an object like {\"certificate\": \"file:PATH\", \"key\": \"file:PATH\"}");
        return;
    }
    check_keys(t, base, {"certificate", "key"}, r);
    std::optional<std::string> pem[2];
    const char* names[2] = {"certificate", "key"};
    for (int i = 0; i < 2; ++i) {
        const std::string pointer = ptr(base, names[i]);
        const std::string* v = get_string(t, names[i], base, r);
        if (v == nullptr) {
            if (!t.contains(names[i])) {
                r.error(pointer, "is required: \"file:PATH\" of a PEM file");
            }
            continue;
        }
        if (v->rfind("file:", 0) != 0 && v->rfind("env:", 0) != 0) {
            r.error(pointer, "must be \"file:PATH\" (a PEM file) or \"env:NAME\"");
            continue;
        }
        pem[i] = resolve_secret(*v, pointer, env, r);
    }
    if (!pem[0] || !pem[1]) {
        return;
    }
    using bio_ptr = std::unique_ptr<BIO, decltype(&BIO_free)>;
    using x509_ptr = std::unique_ptr<X509, decltype(&X509_free)>;
    using key_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
    // No passphrase prompt on the terminal: an encrypted key simply fails to load.
    pem_password_cb* no_passphrase = [](char*, int, int, void*) { return 0; };
    bio_ptr cert_bio(BIO_new_mem_buf(pem[0]->data(), static_cast<int>(pem[0]->size())), &BIO_free);
    x509_ptr cert(PEM_read_bio_X509(cert_bio.get(), nullptr, no_passphrase, nullptr), &X509_free);
    bio_ptr key_bio(BIO_new_mem_buf(pem[1]->data(), static_cast<int>(pem[1]->size())), &BIO_free);
    key_ptr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, no_passphrase, nullptr), &EVP_PKEY_free);
    bool ok = true;
    if (!cert) {
        r.error(ptr(base, "certificate"), "is not a PEM certificate (-----BEGIN CERTIFICATE-----)");
        ok = false;
    } else if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) < 0) {
        r.warn(ptr(base, "certificate"), "has expired");
    }
    if (!key) {
        r.error(ptr(base, "key"), "is not a PEM private key (an encrypted key is not supported)");
        ok = false;
    } else if (EVP_PKEY_get_security_bits(key.get()) < 112) {
        r.error(ptr(base, "key"), "is too weak: use RSA of at least 2048 bits, or ECDSA P-256");
        ok = false;
    }
    if (ok && X509_check_private_key(cert.get(), key.get()) != 1) {
        r.error(ptr(base, "key"), "does not match the certificate");
        ok = false;
    }
    ERR_clear_error();
    if (ok) {
        sc.tls = tls_config{std::move(*pem[0]), std::move(*pem[1])};
    }
}

void load_server(const json& root, config& cfg, const environment& env, reporter& r) {
    const auto it = root.find("server");
    if (it == root.end()) {
        return;
    }
    const std::string base = "/server";
    if (!it->is_object()) {
        r.error(base, "must be an object");
        return;
    }
    const json& s = *it;
    check_keys(s,
               base,
               {"listen",
                "public_url",
                "threads",
                "body_limit",
                "header_limit",
                "header_timeout",
                "body_timeout",
                "idle_timeout",
                "shutdown_grace",
                "max_connections",
                "max_connections_per_ip",
                "rate_limit",
                "per_ip_exempt",
                "tls"},
               r);
    auto& sc = cfg.server;
    if (const std::string* listen = get_string(s, "listen", base, r)) {
        static const std::regex hostport(R"(^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):([0-9]{1,5})$)");
        std::smatch m;
        if (!std::regex_match(*listen, m, hostport) || std::stoul(m[2].str()) > 65535) {
            r.error(ptr(base, "listen"), "must be HOST:PORT, e.g. \"127.0.0.1:8080\"");
        } else {
            std::string host = m[1].str();
            if (host.front() == '[') {
                host = host.substr(1, host.size() - 2);
            }
            sc.host = host;
            sc.port = static_cast<std::uint16_t>(std::stoul(m[2].str()));
        }
    }
    if (const std::string* url = get_string(s, "public_url", base, r)) {
        if (!is_http_url(*url)) {
            r.error(ptr(base, "public_url"), "must be an http:// or https:// URL");
        } else {
            sc.public_url = *url;
            while (!sc.public_url.empty() && sc.public_url.back() == '/') {
                sc.public_url.pop_back();
            }
        }
    }
    if (auto v = get_int(s, "threads", base, 1, 64, r)) {
        sc.threads = static_cast<int>(*v);
    }
    if (auto v = get_int(s, "body_limit", base, 1024, 64 * 1024 * 1024, r)) {
        sc.body_limit = static_cast<std::size_t>(*v);
    }
    if (auto v = get_int(s, "header_limit", base, 1024, 64 * 1024, r)) {
        sc.header_limit = static_cast<std::size_t>(*v);
    }
    if (auto d = get_duration(s, "header_timeout", base, r)) {
        sc.header_timeout = *d;
    }
    if (auto d = get_duration(s, "body_timeout", base, r)) {
        sc.body_timeout = *d;
    }
    if (auto d = get_duration(s, "idle_timeout", base, r)) {
        sc.idle_timeout = *d;
    }
    if (auto d = get_duration(s, "shutdown_grace", base, r)) {
        sc.shutdown_grace = *d;
    }
    if (auto v = get_int(s, "max_connections", base, 1, 1000000, r)) {
        sc.max_connections = static_cast<std::size_t>(*v);
    }
    if (auto v = get_int(s, "max_connections_per_ip", base, 0, 1000000, r)) {
        sc.max_connections_per_ip = static_cast<std::size_t>(*v);
    }
    if (const auto rl = s.find("rate_limit"); rl != s.end()) {
        const std::string rb = ptr(base, "rate_limit");
        if (!rl->is_object()) {
            r.error(rb, "must be an object like {\"per_second\": 20, \"burst\": 100}");
        } else {
            check_keys(*rl, rb, {"per_second", "burst"}, r);
            if (const auto ps = rl->find("per_second"); ps != rl->end()) {
                if (!ps->is_number() || ps->get<double>() < 0 || ps->get<double>() > 1000000) {
                    r.error(ptr(rb, "per_second"), "must be a number from 0 (no limit) to 1000000");
                } else {
                    sc.rate_limit_per_second = ps->get<double>();
                }
            }
            if (auto v = get_int(*rl, "burst", rb, 1, 1000000, r)) {
                sc.rate_limit_burst = static_cast<std::size_t>(*v);
            }
        }
    }
    if (const auto ex = s.find("per_ip_exempt"); ex != s.end()) {
        const std::string eb = ptr(base, "per_ip_exempt");
        if (!ex->is_array()) {
            r.error(eb, "must be an array of addresses or ranges, e.g. [\"127.0.0.1\", \"10.0.0.0/8\"]");
        } else {
            sc.per_ip_exempt.clear();
            for (std::size_t i = 0; i < ex->size(); ++i) {
                const json& v = (*ex)[i];
                auto net = v.is_string() ? parse_ip_network(v.get<std::string>()) : std::nullopt;
                if (!net) {
                    r.error(ptr(eb, i),
                            "must be an IP address or a range like \"10.0.0.0/8\" or \"2001:db8::/32\"");
                } else {
                    sc.per_ip_exempt.push_back(*net);
                }
            }
        }
    }
    if (const auto t = s.find("tls"); t != s.end()) {
        load_tls(*t, ptr(base, "tls"), sc, env, r);
    }
}

// A PostgreSQL connection string: a URI or libpq's key=value form.
bool is_postgres_url(std::string_view s) {
    return s.rfind("postgresql://", 0) == 0 || s.rfind("postgres://", 0) == 0 ||
           (s.find('=') != std::string_view::npos && s.find("://") == std::string_view::npos);
}

// Whether a connection string carries a password (then it is a secret like any other).
bool has_password(std::string_view s) {
    if (s.find("password=") != std::string_view::npos) {
        return true;
    }
    const auto scheme = s.find("://");
    if (scheme == std::string_view::npos) {
        return false;
    }
    const auto authority = s.substr(scheme + 3, s.find_first_of("/?", scheme + 3) - (scheme + 3));
    const auto at = authority.rfind('@');
    return at != std::string_view::npos && authority.substr(0, at).find(':') != std::string_view::npos;
}

void load_store(const json& root, config& cfg, const environment& env, reporter& r) {
    const auto it = root.find("store");
    if (it == root.end()) {
        r.error("/store", "is required, e.g. {\"sqlite\": \"data/flowgate.db\"}");
        return;
    }
    if (!it->is_object()) {
        r.error("/store", "must be an object");
        return;
    }
    check_keys(*it, "/store", {"sqlite", "postgres", "writers"}, r);
    if (it->contains("writers") && !it->contains("postgres")) {
        r.error("/store/writers", "is for \"postgres\" only: SQLite has one writer");
    } else if (auto v = get_int(
                   *it, "writers", "/store", 1, static_cast<std::int64_t>(store_config::max_writers), r)) {
        cfg.store.writers = static_cast<std::size_t>(*v);
    }
    if (it->contains("postgres") && it->contains("sqlite")) {
        r.error("/store", "give one of \"sqlite\" and \"postgres\", not both");
        return;
    }
    if (const std::string* path = get_string(*it, "sqlite", "/store", r)) {
        if (path->empty()) {
            r.error("/store/sqlite", "must not be empty");
        }
        cfg.store.sqlite = *path;
    } else if (const std::string* url = get_string(*it, "postgres", "/store", r)) {
        // The URL may hold a password: "env:NAME" or "file:PATH" like other secrets; a literal one
        // with a password is warned about. Never echoed.
        std::optional<std::string> resolved;
        if (url->rfind("env:", 0) == 0 || url->rfind("file:", 0) == 0) {
            resolved = resolve_secret(*url, "/store/postgres", env, r);
        } else if (has_password(*url)) {
            resolved = resolve_secret(*url, "/store/postgres", env, r);
        } else {
            resolved = *url;
        }
        if (resolved) {
            if (!is_postgres_url(*resolved)) {
                r.error(
                    "/store/postgres",
                    "must be a PostgreSQL connection string such as \"postgresql://flowgate@db/flowgate\"");
            } else {
                cfg.store.postgres = *resolved;
            }
        }
    } else if (!it->contains("postgres") && !it->contains("sqlite")) {
        r.error("/store", "needs \"sqlite\": PATH or \"postgres\": URL");
    }
}

void load_globals(const json& root, config& cfg, const environment& env, reporter& r) {
    if (const std::string* key = get_string(root, "data_key", "", r)) {
        if (*key == "none") {
            cfg.data_key = "none";
        } else if (auto v = resolve_secret(*key, "/data_key", env, r)) {
            static const std::regex hex64("^[0-9A-Fa-f]{64}$");
            if (!std::regex_match(*v, hex64)) {
                r.error("/data_key", "the key must be 64 hexadecimal characters");
            } else {
                cfg.data_key = *v;
            }
        }
    } else if (!root.contains("data_key")) {
        r.error("/data_key",
                "is required: the key for participants' data at rest, \"env:NAME\" or \"file:PATH\" "
                "holding 64 hexadecimal characters (or \"none\" for throwaway use)");
    }
    // Ten years at most: a longer retention is no retention policy.
    if (auto days = get_int(root, "retention_days", "", 1, 3650, r)) {
        cfg.retention_days = static_cast<int>(*days);
    }
    if (const std::string* cc = get_string(root, "default_country", "", r)) {
        static const std::regex alpha2("^[A-Z]{2}$");
        if (!std::regex_match(*cc, alpha2) || !handlers::is_known_region(*cc)) {
            r.error("/default_country", "must be an ISO 3166 country code such as \"JO\", \"LB\" or \"NG\"");
        } else {
            cfg.default_country = *cc;
        }
    }
    if (const std::string* tz = get_string(root, "timezone", "", r)) {
        if (!flows::is_time_zone(*tz)) {
            r.error("/timezone", "unknown time zone; use an IANA name such as \"Asia/Amman\"");
        } else {
            cfg.timezone = *tz;
        }
    }
    if (const auto it = root.find("languages"); it != root.end()) {
        static const std::regex code("^[a-z]{2,3}$");
        if (!it->is_array() || it->empty()) {
            r.error("/languages", "must be a non-empty array of language codes, e.g. [\"ar\", \"en\"]");
        } else {
            std::vector<std::string> langs;
            for (std::size_t i = 0; i < it->size(); ++i) {
                const json& v = (*it)[i];
                if (!v.is_string() || !std::regex_match(v.get<std::string>(), code)) {
                    r.error(ptr("/languages", i), "must be an ISO 639 language code such as \"ar\"");
                } else if (std::find(langs.begin(), langs.end(), v.get<std::string>()) != langs.end()) {
                    r.error(ptr("/languages", i), "is listed twice");
                } else {
                    langs.push_back(v.get<std::string>());
                }
            }
            cfg.languages = langs;
        }
    }
    if (const auto it = root.find("quiet_hours"); it != root.end()) {
        if (!it->is_object()) {
            r.error("/quiet_hours", "must be an object like {\"start\": \"21:00\", \"end\": \"08:00\"}");
        } else {
            check_keys(*it, "/quiet_hours", {"start", "end"}, r);
            std::optional<clock_time> start, end;
            for (const char* key : {"start", "end"}) {
                const std::string* s = get_string(*it, key, "/quiet_hours", r);
                auto t = s ? parse_clock(*s) : std::nullopt;
                if (!t) {
                    r.error(ptr("/quiet_hours", key), "must be a time like \"21:00\"");
                }
                (std::string_view(key) == "start" ? start : end) = t;
            }
            if (start && end) {
                cfg.quiet_hours = std::make_pair(*start, *end);
            }
        }
    }
}

void load_channels(const json& root, config& cfg, const environment& env, reporter& r) {
    const auto it = root.find("channels");
    if (it == root.end()) {
        r.error("/channels", "is required: at least one channel");
        return;
    }
    if (!it->is_array()) {
        r.error("/channels", "must be an array");
        return;
    }
    static const std::regex id_pattern("^[A-Za-z0-9_-]{1,64}$");
    std::set<std::string> ids;
    for (std::size_t i = 0; i < it->size(); ++i) {
        const json& c = (*it)[i];
        const std::string base = ptr("/channels", i);
        if (!c.is_object()) {
            r.error(base, "must be an object");
            continue;
        }
        channel_config ch;
        ch.settings.default_country = cfg.default_country;
        bool ok = true;
        const std::string* id = get_string(c, "id", base, r);
        if (id == nullptr) {
            if (!c.contains("id")) {
                r.error(base + "/id", "is required");
            }
            ok = false;
        } else if (!std::regex_match(*id, id_pattern)) {
            r.error(base + "/id", "must be 1 to 64 letters, digits, '-' or '_'");
            ok = false;
        } else if (!ids.insert(*id).second) {
            r.error(base + "/id", "another channel has the id \"" + *id + "\"");
            ok = false;
        } else {
            ch.settings.id = *id;
        }
        const handlers::handler_type* type = nullptr;
        if (const std::string* t = get_string(c, "type", base, r)) {
            type = handlers::find_handler_type(*t);
            if (type == nullptr) {
                std::string known;
                for (const auto& h : handlers::register_all()) {
                    known += (known.empty() ? "" : ", ") + h.name;
                }
                r.error(base + "/type", "unknown channel type \"" + *t + "\" (known: " + known + ")");
            } else {
                ch.settings.type = *t;
            }
        } else if (!c.contains("type")) {
            r.error(base + "/type", "is required");
        }
        if (type == nullptr) {
            continue;
        }
        for (const auto& [key, value] : c.items()) {
            if (key == "id" || key == "type") {
                continue;
            }
            if (key == "max_per_second") {
                if (!value.is_number() || value.get<double>() <= 0 || value.get<double>() > 100000) {
                    r.error(ptr(base, key), "must be a number of messages per second above 0");
                    ok = false;
                } else {
                    ch.max_per_second = value.get<double>();
                }
                continue;
            }
            // `<secret>_previous`: the secret being rotated out, accepted on inbound requests
            // during the overlap (handlers/rotation.hpp). It reads like the secret itself.
            constexpr std::string_view previous_suffix = "_previous";
            const bool previous = key.size() > previous_suffix.size() && key.ends_with(previous_suffix);
            const std::string name = previous ? key.substr(0, key.size() - previous_suffix.size()) : key;
            const auto spec = std::find_if(
                type->settings.begin(), type->settings.end(), [&](const auto& s) { return s.name == name; });
            if (spec == type->settings.end() || (previous && !spec->rotates)) {
                r.error(ptr(base, key),
                        previous && spec != type->settings.end()
                            ? "only a secret that checks inbound requests has a previous value to rotate"
                            : "unknown key for channel type " + type->name);
                ok = false;
                continue;
            }
            if (previous && !c.contains(name)) {
                r.error(ptr(base, key), "needs the current secret \"" + name + "\" beside it");
                ok = false;
                continue;
            }
            if (!value.is_string()) {
                r.error(ptr(base, key), std::string("must be a string, not ") + type_name(value));
                ok = false;
                continue;
            }
            std::string v = value.get<std::string>();
            switch (spec->type) {
                case handlers::setting_spec::kind::url:
                    if (!is_http_url(v)) {
                        r.error(ptr(base, key), "must be an http:// or https:// URL");
                        ok = false;
                    }
                    break;
                case handlers::setting_spec::kind::secret:
                    if (auto s = resolve_secret(v, ptr(base, key), env, r)) {
                        v = *s;
                    } else {
                        ok = false;
                    }
                    break;
                case handlers::setting_spec::kind::string:
                    if (v.empty()) {
                        r.error(ptr(base, key), "must not be empty");
                        ok = false;
                    }
                    break;
            }
            if (!spec->choices.empty() &&
                std::find(spec->choices.begin(), spec->choices.end(), v) == spec->choices.end()) {
                std::string list;
                for (const auto& choice : spec->choices) {
                    list += (list.empty() ? "" : ", ") + choice;
                }
                r.error(ptr(base, key), "must be one of: " + list);
                ok = false;
            }
            ch.settings.values[key] = v;
        }
        for (const auto& spec : type->settings) {
            if (spec.required && !c.contains(spec.name)) {
                r.error(ptr(base, spec.name), "is required for channel type " + type->name);
                ok = false;
            }
        }
        if (ok) {
            std::string url = cfg.server.public_url;
            while (!url.empty() && url.back() == '/') {
                url.pop_back();
            }
            ch.settings.values["public_url"] = url;
            cfg.channels.push_back(std::move(ch));
        }
    }
}

void load_flows(const json& root, config& cfg, const environment& env, load_outcome& out, reporter& r) {
    const auto it = root.find("flows");
    if (it == root.end()) {
        return;
    }
    if (!it->is_array()) {
        r.error("/flows", "must be an array of flow file paths");
        return;
    }
    for (std::size_t i = 0; i < it->size(); ++i) {
        const json& v = (*it)[i];
        const std::string base = ptr("/flows", i);
        if (!v.is_string() || v.get<std::string>().empty()) {
            r.error(base, "must be a flow file path");
            continue;
        }
        const std::string path = v.get<std::string>();
        auto text = env.read_file(path);
        if (!text) {
            r.error(base, "cannot read flow file " + path);
            continue;
        }
        reporter fr(path, out);
        json doc = json::parse(*text, nullptr, false);
        if (doc.is_discarded()) {
            fr.error("", "not valid JSON");
            continue;
        }
        if (doc.is_object() && (doc.contains("flows") || doc.contains("spec_version"))) {
            // A RapidPro/TextIt export: every flow in it, by UUID or name.
            auto exported = flows::load_rapidpro_export(doc, cfg.languages);
            for (auto& p : exported.problems) {
                fr.error(p.pointer, p.message);
            }
            for (auto& f : exported.flows) {
                if (cfg.flows->find(f.id) != nullptr) {
                    fr.error("", "another flow has the id \"" + f.id + "\"");
                    continue;
                }
                cfg.flows->add(std::move(f));
            }
            cfg.flow_files.push_back(path);
            continue;
        }
        flows::load_options options;
        options.stop_words = cfg.keywords.stop;
        auto loaded = flows::load_flow(doc, options);
        for (auto& p : loaded.problems) {
            fr.error(p.pointer, p.message);
        }
        for (auto& p : loaded.warnings) {
            fr.warn(p.pointer, p.message);
        }
        if (!loaded.loaded) {
            continue;
        }
        if (cfg.flows->find(loaded.loaded->id) != nullptr) {
            fr.error("/id", "another flow has the id \"" + loaded.loaded->id + "\"");
            continue;
        }
        cfg.flow_files.push_back(path);
        cfg.flows->add(std::move(*loaded.loaded));
    }
}

// A flow named by the config, or an error at `pointer` (when the flows all loaded: otherwise the
// flow may be one that failed).
std::string flow_reference(
    const std::string& id, const std::string& pointer, const config& cfg, reporter& r, bool flows_complete) {
    if (const flows::flow* f = cfg.flows->find(id)) {
        return f->id;
    }
    if (flows_complete) {
        r.error(pointer, "no flow has the id \"" + id + "\"");
    }
    return {};
}

void load_triggers(const json& root, config& cfg, reporter& r, bool flows_complete) {
    const auto it = root.find("triggers");
    if (it == root.end()) {
        return;
    }
    if (!it->is_array()) {
        r.error("/triggers", "must be an array");
        return;
    }
    std::set<std::string> seen;
    for (std::size_t i = 0; i < it->size(); ++i) {
        const json& t = (*it)[i];
        const std::string base = ptr("/triggers", i);
        if (!t.is_object()) {
            r.error(base, "must be an object");
            continue;
        }
        check_keys(t, base, {"keywords", "flow", "match", "language", "catch_all", "new_conversation"}, r);
        flows::keyword_trigger trig;
        const auto kw = t.find("keywords");
        // Triggers without keywords: catch_all (a message no keyword took, from a contact in no flow)
        // and new_conversation (a chat channel's "Start": Telegram /start, Messenger Get Started).
        bool keywordless = false;
        for (const auto& [key, kind, what] :
             {std::tuple{"catch_all", flows::keyword_trigger::match::catch_all, "a catch-all trigger"},
              std::tuple{"new_conversation",
                         flows::keyword_trigger::match::new_conversation,
                         "a new-conversation trigger"}}) {
            const auto flag = t.find(key);
            if (flag == t.end()) {
                continue;
            }
            if (!flag->is_boolean()) {
                r.error(ptr(base, key), "must be true or false");
                continue;
            }
            if (!flag->get<bool>()) {
                continue;
            }
            if (keywordless) {
                r.error(ptr(base, key), "a trigger is catch_all or new_conversation, not both");
                continue;
            }
            keywordless = true;
            trig.match_type = kind;
            if (kw != t.end()) {
                r.error(base + "/keywords", std::string(what) + " has no keywords");
            }
            if (std::any_of(
                    cfg.triggers.begin(), cfg.triggers.end(), [kind = kind](const flows::keyword_trigger& o) {
                        return o.match_type == kind;
                    })) {
                r.error(ptr(base, key), std::string("there is already ") + what);
            }
        }
        if (!keywordless && (kw == t.end() || !kw->is_array() || kw->empty())) {
            r.error(base + "/keywords", "must be a non-empty array of keywords");
        } else if (!keywordless) {
            for (std::size_t k = 0; k < kw->size(); ++k) {
                const json& word = (*kw)[k];
                const std::string wp = ptr(base + "/keywords", k);
                if (!word.is_string()) {
                    r.error(wp, "must be a string");
                    continue;
                }
                const auto tokens = flows::tokenize(word.get<std::string>());
                if (tokens.size() != 1) {
                    r.error(wp, "must be one word");
                    continue;
                }
                if (!seen.insert(tokens[0]).second) {
                    r.error(wp, "the keyword \"" + word.get<std::string>() + "\" is used by another trigger");
                    continue;
                }
                trig.keywords.push_back(word.get<std::string>());
            }
        }
        if (const std::string* flow = get_string(t, "flow", base, r)) {
            trig.flow_id = flow_reference(*flow, base + "/flow", cfg, r, flows_complete);
        } else if (!t.contains("flow")) {
            r.error(base + "/flow", "is required");
        }
        if (const std::string* m = keywordless ? nullptr : get_string(t, "match", base, r)) {
            if (*m == "first_word") {
                trig.match_type = flows::keyword_trigger::match::first_word;
            } else if (*m == "only_word") {
                trig.match_type = flows::keyword_trigger::match::only_word;
            } else {
                r.error(base + "/match", "must be \"first_word\" or \"only_word\"");
            }
        }
        if (const std::string* lang = get_string(t, "language", base, r)) {
            if (std::find(cfg.languages.begin(), cfg.languages.end(), *lang) == cfg.languages.end()) {
                r.error(base + "/language", "is not one of the config's languages");
            } else {
                for (const auto& word : trig.keywords) {
                    cfg.trigger_languages[flows::normalize(word)] = *lang;
                }
            }
        }
        cfg.triggers.push_back(std::move(trig));
    }
}

// A text per language: {"en": "...", "ar": "..."} with configured languages, or one string for
// every language.
std::optional<flows::lang_text> get_lang_text(
    const json& obj, std::string_view key, const std::string& base, const config& cfg, reporter& r) {
    const auto it = obj.find(key);
    if (it == obj.end()) {
        return std::nullopt;
    }
    const std::string p = ptr(base, key);
    flows::lang_text out;
    if (it->is_string() && !it->get<std::string>().empty()) {
        for (const auto& lang : cfg.languages) {
            out[lang] = it->get<std::string>();
        }
        return out;
    }
    if (!it->is_object() || it->empty()) {
        r.error(
            p,
            "must be a text, or an object of texts by language such as {\"en\": \"...\", \"ar\": \"...\"}");
        return std::nullopt;
    }
    bool ok = true;
    for (const auto& [lang, text] : it->items()) {
        if (std::find(cfg.languages.begin(), cfg.languages.end(), lang) == cfg.languages.end()) {
            r.error(ptr(p, lang), "is not one of the config's languages");
            ok = false;
        } else if (!text.is_string() || text.get<std::string>().empty()) {
            r.error(ptr(p, lang), "must be a non-empty string");
            ok = false;
        } else {
            out[lang] = text.get<std::string>();
        }
    }
    return ok ? std::optional(out) : std::nullopt;
}

// "-2d", "-90m", "1d", "0h": a signed duration in whole minutes.
std::optional<std::chrono::minutes> parse_offset(std::string_view s) {
    const bool negative = !s.empty() && s.front() == '-';
    if (negative || (!s.empty() && s.front() == '+')) {
        s.remove_prefix(1);
    }
    const std::string body(s);
    if (body == "0" || body == "0m" || body == "0h" || body == "0d") {
        return std::chrono::minutes{0};
    }
    const auto d = flows::parse_duration(body);
    if (!d || d->count() % 60 != 0) {
        return std::nullopt;
    }
    const auto m = std::chrono::duration_cast<std::chrono::minutes>(*d);
    return negative ? -m : m;
}

// One workshop object (the config's "workshops" entries, the admin API's bodies). Problems are
// reported under `base`.
std::optional<flows::workshop> read_workshop(const json& w,
                                             const std::string& base,
                                             const config& cfg,
                                             reporter& r) {
    if (!w.is_object()) {
        r.error(base, "must be an object");
        return std::nullopt;
    }
    check_keys(w, base, {"id", "title", "place", "starts_at", "timezone", "capacity", "open"}, r);
    flows::workshop ws;
    ws.timezone = cfg.timezone;
    bool ok = true;
    static const std::regex id_chars("^[a-z0-9_-]{1,64}$");
    if (const std::string* id = get_string(w, "id", base, r)) {
        if (!std::regex_match(*id, id_chars)) {
            r.error(base + "/id", "must be 1 to 64 of a-z, 0-9, \"_\" and \"-\"");
            ok = false;
        } else {
            ws.id = *id;
        }
    } else {
        ok = false;
        if (!w.contains("id")) {
            r.error(base + "/id", "is required");
        }
    }
    for (const auto& [key, field] : {std::pair{"title", &ws.title}, std::pair{"place", &ws.place}}) {
        if (auto text = get_lang_text(w, key, base, cfg, r)) {
            // Every configured language gets a text: the default language's where one is missing.
            const auto fallback = text->count(cfg.languages.front()) != 0 ? text->at(cfg.languages.front())
                                                                          : text->begin()->second;
            for (const auto& lang : cfg.languages) {
                (*field)[lang] = text->count(lang) != 0 ? text->at(lang) : fallback;
            }
        } else {
            ok = false;
            if (!w.contains(key)) {
                r.error(ptr(base, key), "is required");
            }
        }
    }
    if (const std::string* tz = get_string(w, "timezone", base, r)) {
        if (!flows::is_time_zone(*tz)) {
            r.error(base + "/timezone", "unknown time zone; use an IANA name such as \"Asia/Amman\"");
            ok = false;
        } else {
            ws.timezone = *tz;
        }
    }
    if (const std::string* start = get_string(w, "starts_at", base, r)) {
        if (const auto t = flows::parse_local(*start, ws.timezone)) {
            ws.starts_at = *t;
        } else {
            r.error(base + "/starts_at",
                    "must be the local date and time like \"2027-03-14T10:00\" (in the workshop's "
                    "timezone)");
            ok = false;
        }
    } else {
        ok = false;
        if (!w.contains("starts_at")) {
            r.error(base + "/starts_at", "is required");
        }
    }
    if (const auto cap = get_int(w, "capacity", base, 1, 100000, r)) {
        ws.capacity = static_cast<int>(*cap);
    } else {
        ok = false;
        if (!w.contains("capacity")) {
            r.error(base + "/capacity", "is required");
        }
    }
    if (const auto open = w.find("open"); open != w.end()) {
        if (!open->is_boolean()) {
            r.error(base + "/open", "must be true or false");
            ok = false;
        } else {
            ws.open = open->get<bool>();
        }
    }
    if (!ok) {
        return std::nullopt;
    }
    return ws;
}

void load_workshops(const json& root, config& cfg, reporter& r) {
    const auto it = root.find("workshops");
    if (it == root.end()) {
        return;
    }
    if (!it->is_array()) {
        r.error("/workshops", "must be an array of workshops");
        return;
    }
    std::set<std::string> seen;
    for (std::size_t i = 0; i < it->size(); ++i) {
        const std::string base = ptr("/workshops", i);
        auto ws = read_workshop((*it)[i], base, cfg, r);
        if (ws && !seen.insert(ws->id).second) {
            r.error(base + "/id", "is used by another workshop");
        } else if (ws) {
            cfg.workshops.push_back(std::move(*ws));
        }
    }
}

void load_reminders(const json& root, config& cfg, reporter& r, bool flows_complete) {
    if (const std::string* flow = get_string(root, "promotion_flow", "", r)) {
        cfg.promotion_flow = flow_reference(*flow, "/promotion_flow", cfg, r, flows_complete);
    }
    if (const std::string* flow = get_string(root, "cancellation_flow", "", r)) {
        cfg.cancellation_flow = flow_reference(*flow, "/cancellation_flow", cfg, r, flows_complete);
    }
    const auto it = root.find("reminders");
    if (it == root.end()) {
        return;
    }
    if (!it->is_array()) {
        r.error("/reminders", "must be an array of reminders");
        return;
    }
    for (std::size_t i = 0; i < it->size(); ++i) {
        const json& e = (*it)[i];
        const std::string base = ptr("/reminders", i);
        if (!e.is_object()) {
            r.error(base,
                    "must be an object like {\"offset\": \"-2d\", \"at\": \"10:00\", \"flow\": \"...\"}");
            continue;
        }
        check_keys(e, base, {"offset", "at", "flow"}, r);
        reminder_config rem;
        bool ok = true;
        if (const std::string* off = get_string(e, "offset", base, r)) {
            if (const auto m = parse_offset(*off)) {
                rem.offset = *m;
            } else {
                r.error(base + "/offset",
                        "must be a duration from the workshop's start such as \"-2d\", \"-2h\" or \"1d\"");
                ok = false;
            }
        } else {
            ok = false;
            if (!e.contains("offset")) {
                r.error(base + "/offset", "is required");
            }
        }
        if (const std::string* at = get_string(e, "at", base, r)) {
            if (const auto t = parse_clock(*at)) {
                rem.at = t->minutes;
                if (ok && rem.offset % std::chrono::hours(24) != std::chrono::minutes{0}) {
                    r.error(base + "/at", "is only for an offset in whole days (\"-2d\", \"1d\")");
                    ok = false;
                }
            } else {
                r.error(base + "/at", "must be a time like \"10:00\"");
                ok = false;
            }
        }
        if (const std::string* flow = get_string(e, "flow", base, r)) {
            rem.flow_id = flow_reference(*flow, base + "/flow", cfg, r, flows_complete);
            ok = ok && !rem.flow_id.empty();
        } else {
            ok = false;
            if (!e.contains("flow")) {
                r.error(base + "/flow", "is required");
            }
        }
        if (ok) {
            cfg.reminders.push_back(std::move(rem));
        }
    }
}

void load_keywords(const json& root, config& cfg, reporter& r) {
    if (const std::string* name = get_string(root, "programme", "", r)) {
        if (name->empty()) {
            r.error("/programme", "must not be empty");
        } else {
            cfg.programme = *name;
        }
    }
    auto& kw = cfg.keywords;
    kw.help_reply = flows::default_help_reply(cfg.programme);
    const auto it = root.find("keywords");
    if (it == root.end()) {
        return;
    }
    if (!it->is_object()) {
        r.error("/keywords", "must be an object");
        return;
    }
    check_keys(*it,
               "/keywords",
               {"stop", "start", "start_while_stopped", "help", "stop_reply", "start_reply", "help_reply"},
               r);
    std::set<std::string> seen;
    const auto words = [&](std::string_view key, std::vector<std::string>& into) {
        const auto w = it->find(key);
        if (w == it->end()) {
            return;
        }
        const std::string p = ptr("/keywords", key);
        if (!w->is_array()) {
            r.error(p, "must be an array of words (an empty array turns the keyword off)");
            return;
        }
        into.clear();
        for (std::size_t i = 0; i < w->size(); ++i) {
            const json& word = (*w)[i];
            if (!word.is_string() || flows::tokenize(word.get<std::string>()).size() != 1) {
                r.error(ptr(p, i), "must be one word");
            } else if (!seen.insert(flows::normalize(word.get<std::string>())).second) {
                r.error(ptr(p, i), "the word \"" + word.get<std::string>() + "\" is listed twice");
            } else {
                into.push_back(word.get<std::string>());
            }
        }
    };
    words("stop", kw.stop);
    words("start", kw.start);
    words("start_while_stopped", kw.start_while_stopped);
    words("help", kw.help);
    if (auto t = get_lang_text(*it, "stop_reply", "/keywords", cfg, r)) {
        kw.stop_reply = *t;
    }
    if (auto t = get_lang_text(*it, "start_reply", "/keywords", cfg, r)) {
        kw.start_reply = *t;
    }
    if (auto t = get_lang_text(*it, "help_reply", "/keywords", cfg, r)) {
        kw.help_reply = *t;
    }
}

// A trigger keyword that is also a standing keyword would never start its flow when sent alone.
void check_trigger_keywords(const config& cfg, reporter& r) {
    for (std::size_t i = 0; i < cfg.triggers.size(); ++i) {
        for (std::size_t k = 0; k < cfg.triggers[i].keywords.size(); ++k) {
            const auto& word = cfg.triggers[i].keywords[k];
            if (const auto s = flows::match_standing(cfg.keywords, word, false)) {
                r.error(ptr(ptr("/triggers", i) + "/keywords", k),
                        "\"" + word + "\" is the standing keyword " + flows::to_string(*s) +
                            "; choose another word");
            }
        }
    }
}

}  // namespace

timestamp config::outside_quiet_hours(timestamp at) const { return outside_quiet_hours(at, timezone); }

timestamp config::outside_quiet_hours(timestamp at, std::string_view zone) const {
    if (!quiet_hours) {
        return at;
    }
    const int start = quiet_hours->first.minutes;
    const int end = quiet_hours->second.minutes;
    if (start == end) {
        return at;
    }
    std::unique_ptr<icu::TimeZone> tz(icu::TimeZone::createTimeZone(
        icu::UnicodeString::fromUTF8(icu::StringPiece(zone.data(), static_cast<int32_t>(zone.size())))));
    UErrorCode status = U_ZERO_ERROR;
    int32_t raw = 0;
    int32_t dst = 0;
    tz->getOffset(static_cast<UDate>(to_millis(at)), false, raw, dst, status);
    const std::int64_t offset = U_SUCCESS(status) ? std::int64_t{raw} + dst : 0;
    constexpr std::int64_t day = 24 * 60 * 60 * 1000;
    const std::int64_t local = to_millis(at) + offset;
    const std::int64_t into_day = ((local % day) + day) % day;
    const int minute = static_cast<int>(into_day / 60000);
    const bool quiet = start < end ? (minute >= start && minute < end) : (minute >= start || minute < end);
    if (!quiet) {
        return at;
    }
    // The next local `end` o'clock (the offset at `at` is close enough across one night).
    std::int64_t wait = std::int64_t{end} * 60000 - into_day;
    if (wait <= 0) {
        wait += day;
    }
    return from_millis(to_millis(at) + wait);
}

flows::environment config::engine_environment() const {
    flows::environment env;
    env.languages = languages;
    env.timezone = timezone;
    env.default_country = default_country;
    return env;
}

const channel_config* config::find_channel(std::string_view id) const {
    for (const auto& c : channels) {
        if (c.settings.id == id) {
            return &c;
        }
    }
    return nullptr;
}

std::string diagnostic::to_string() const {
    return file + ": " + (pointer.empty() ? "/" : pointer) + ": " + (warning ? "warning: " : "") + message;
}

environment process_environment() {
    environment env;
    env.getenv = [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        return v ? std::optional<std::string>(v) : std::nullopt;
    };
    env.read_file = [](const std::string& path) -> std::optional<std::string> {
        std::ifstream in(path, std::ios::binary);
        if (!in) {
            return std::nullopt;
        }
        std::ostringstream ss;
        ss << in.rdbuf();
        if (in.bad()) {
            return std::nullopt;
        }
        return ss.str();
    };
    return env;
}

std::optional<flows::workshop> parse_workshop(const nlohmann::json& doc,
                                              const config& cfg,
                                              flowgate::problems& out) {
    load_outcome collected;
    reporter r("", collected);
    auto ws = read_workshop(doc, "", cfg, r);
    for (const auto& d : collected.errors) {
        out.push_back({d.pointer, d.message});
    }
    return out.empty() ? ws : std::nullopt;
}

load_outcome load_text(const std::string& file, const std::string& text, const environment& env) {
    load_outcome out;
    reporter r(file, out);
    json root = json::parse(text, nullptr, false);
    if (root.is_discarded()) {
        r.error("", "not valid JSON");
        return out;
    }
    if (!root.is_object()) {
        r.error("", "must be a JSON object");
        return out;
    }
    check_keys(root,
               "",
               {"server",
                "store",
                "data_key",
                "default_country",
                "timezone",
                "languages",
                "quiet_hours",
                "channels",
                "flows",
                "triggers",
                "programme",
                "keywords",
                "workshops",
                "reminders",
                "promotion_flow",
                "cancellation_flow",
                "retention_days"},
               r);
    config cfg;
    cfg.file = file;
    load_server(root, cfg, env, r);
    load_store(root, cfg, env, r);
    load_globals(root, cfg, env, r);
    load_channels(root, cfg, env, r);
    load_keywords(root, cfg, r);  // before the flows: a survey's opt-out notice names the stop words
    const std::size_t errors_before_flows = out.errors.size();
    load_flows(root, cfg, env, out, r);
    const bool flows_complete = out.errors.size() == errors_before_flows;
    load_triggers(root, cfg, r, flows_complete);
    check_trigger_keywords(cfg, r);
    load_workshops(root, cfg, r);
    load_reminders(root, cfg, r, flows_complete);
    if (out.errors.empty()) {
        out.loaded = std::move(cfg);
    }
    return out;
}

load_outcome load(const std::string& path, const environment& env) {
    auto text = env.read_file(path);
    if (!text) {
        load_outcome out;
        out.errors.push_back({path, "", "cannot read the config file", false});
        return out;
    }
    return load_text(path, *text, env);
}

bool ip_network::contains(const unsigned char* addr, std::size_t size) const {
    std::array<unsigned char, 16> a{};
    if (size == 4) {
        a[10] = a[11] = 0xff;
        std::copy(addr, addr + 4, a.begin() + 12);
    } else if (size == 16) {
        std::copy(addr, addr + 16, a.begin());
    } else {
        return false;
    }
    int bits = prefix;
    for (std::size_t i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
        const unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
        if ((a[i] & mask) != (address[i] & mask)) {
            return false;
        }
    }
    return true;
}

std::optional<ip_network> parse_ip_network(std::string_view text) {
    const auto slash = text.find('/');
    const std::string host(text.substr(0, slash));
    ip_network net;
    int max_prefix = 128;
    int offset = 0;  // an IPv4 prefix counts from bit 96 of the mapped address
    unsigned char v4[4];
    if (inet_pton(AF_INET, host.c_str(), v4) == 1) {
        net.address[10] = net.address[11] = 0xff;
        std::copy(v4, v4 + 4, net.address.begin() + 12);
        max_prefix = 32;
        offset = 96;
    } else if (inet_pton(AF_INET6, host.c_str(), net.address.data()) != 1) {
        return std::nullopt;
    }
    int prefix = max_prefix;
    if (slash != std::string_view::npos) {
        const std::string_view digits = text.substr(slash + 1);
        if (digits.empty() || digits.size() > 3 ||
            !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            return std::nullopt;
        }
        prefix = std::stoi(std::string(digits));
        if (prefix > max_prefix) {
            return std::nullopt;
        }
    }
    net.prefix = offset + prefix;
    return net;
}

}  // namespace flowgate::config
