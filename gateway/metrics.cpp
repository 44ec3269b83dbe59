#include "gateway/metrics.hpp"

#include <iomanip>
#include <sstream>

namespace flowgate::gateway {

namespace {
// Label values come from our own route names and channel ids, but escape anyway.
std::string label(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') {
            out += '\\';
        }
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}
}  // namespace

void metrics::count_request(std::string_view route, int status) {
    std::lock_guard lock(mutex_);
    ++requests_[{std::string(route), status}];
}

void metrics::count_connection_dropped(std::string_view reason) {
    std::lock_guard lock(mutex_);
    ++connections_dropped_[std::string(reason)];
}

void metrics::count_message_in(std::string_view channel) {
    std::lock_guard lock(mutex_);
    ++messages_in_[std::string(channel)];
}

void metrics::count_message_out(std::string_view channel, std::string_view state) {
    std::lock_guard lock(mutex_);
    ++messages_out_[{std::string(channel), std::string(state)}];
}

void metrics::histogram::observe(std::chrono::microseconds d) {
    const double seconds = static_cast<double>(d.count()) / 1e6;
    for (std::size_t i = 0; i < latency_buckets.size(); ++i) {
        if (seconds <= latency_buckets[i]) {
            ++counts[i];
        }
    }
    ++count;
    sum += seconds;
}

void metrics::histogram::render(std::ostream& out, std::string_view name, std::string_view help) const {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " histogram\n";
    for (std::size_t i = 0; i < latency_buckets.size(); ++i) {
        out << name << "_bucket{le=\"" << latency_buckets[i] << "\"} " << counts[i] << '\n';
    }
    out << name << "_bucket{le=\"+Inf\"} " << count << '\n'
        << name << "_sum " << sum << '\n'
        << name << "_count " << count << '\n';
}

void metrics::observe_commit(std::chrono::microseconds latency, std::size_t batch_size) {
    std::lock_guard lock(mutex_);
    commits_.observe(latency);
    committed_events_ += batch_size;
}

void metrics::observe_job_waits(const std::vector<std::chrono::microseconds>& waits) {
    std::lock_guard lock(mutex_);
    for (const auto wait : waits) {
        job_waits_.observe(wait);
    }
}

void metrics::observe_housekeeping(std::chrono::microseconds took) {
    std::lock_guard lock(mutex_);
    housekeeping_.observe(took);
}

void metrics::count_group_retry() {
    std::lock_guard lock(mutex_);
    ++group_retries_;
}

void metrics::observe_purge(double at, std::size_t message_texts, std::size_t runs) {
    std::lock_guard lock(mutex_);
    last_purge_ = at;
    purged_texts_ += message_texts;
    purged_runs_ += runs;
}

bool metrics::count_previous_secret(std::string_view channel) {
    std::lock_guard lock(mutex_);
    return ++previous_secret_[std::string(channel)] == 1;
}

std::string metrics::render() const {
    std::lock_guard lock(mutex_);
    std::ostringstream out;
    out << "# HELP flowgate_http_requests_total HTTP requests by route and status.\n"
        << "# TYPE flowgate_http_requests_total counter\n";
    for (const auto& [key, n] : requests_) {
        out << "flowgate_http_requests_total{route=\"" << label(key.first) << "\",status=\"" << key.second
            << "\"} " << n << '\n';
    }
    out << "# HELP flowgate_http_connections_dropped_total Connections closed without an answer, by reason.\n"
        << "# TYPE flowgate_http_connections_dropped_total counter\n";
    for (const auto& [reason, n] : connections_dropped_) {
        out << "flowgate_http_connections_dropped_total{reason=\"" << label(reason) << "\"} " << n << '\n';
    }
    out << "# HELP flowgate_messages_in_total Inbound messages stored, by channel.\n"
        << "# TYPE flowgate_messages_in_total counter\n";
    for (const auto& [channel, n] : messages_in_) {
        out << "flowgate_messages_in_total{channel=\"" << label(channel) << "\"} " << n << '\n';
    }
    out << "# HELP flowgate_messages_out_total Outbound message transitions, by channel and new state.\n"
        << "# TYPE flowgate_messages_out_total counter\n";
    for (const auto& [key, n] : messages_out_) {
        out << "flowgate_messages_out_total{channel=\"" << label(key.first) << "\",state=\""
            << label(key.second) << "\"} " << n << '\n';
    }
    commits_.render(out, "flowgate_store_commit_seconds", "Latency of the store's group commits.");
    out << "# HELP flowgate_store_committed_events_total Events committed by the writer.\n"
        << "# TYPE flowgate_store_committed_events_total counter\n"
        << "flowgate_store_committed_events_total " << committed_events_ << '\n';
    job_waits_.render(out,
                      "flowgate_store_job_wait_seconds",
                      "How long jobs waited in the writer, from submission to answer (the queue, then "
                      "their group's commit).");
    housekeeping_.render(out,
                         "flowgate_store_housekeeping_seconds",
                         "The writer's housekeeping between groups (SQLite: copying the WAL into the "
                         "database file); jobs that arrive meanwhile wait for it.");
    out << "# HELP flowgate_store_group_retries_total Groups run again, each job in its savepoint, after "
           "a job failed in the group run without them (a job refused, or one that would wait for "
           "another instance's lock).\n"
        << "# TYPE flowgate_store_group_retries_total counter\n"
        << "flowgate_store_group_retries_total " << group_retries_ << '\n';
    out << "# HELP flowgate_webhooks_previous_secret_total Webhooks verified by a channel's previous secret "
           "(finish the rotation when this stops growing).\n"
        << "# TYPE flowgate_webhooks_previous_secret_total counter\n";
    for (const auto& [channel, n] : previous_secret_) {
        out << "flowgate_webhooks_previous_secret_total{channel=\"" << label(channel) << "\"} " << n << '\n';
    }
    if (last_purge_ > 0) {
        out << "# HELP flowgate_retention_last_purge_timestamp_seconds When the last retention purge "
               "committed.\n"
            << "# TYPE flowgate_retention_last_purge_timestamp_seconds gauge\n"
            << std::fixed << std::setprecision(3) << "flowgate_retention_last_purge_timestamp_seconds "
            << last_purge_ << '\n'
            << std::defaultfloat
            << "# HELP flowgate_retention_purged_total What retention purges took away.\n"
            << "# TYPE flowgate_retention_purged_total counter\n"
            << "flowgate_retention_purged_total{what=\"message_texts\"} " << purged_texts_ << '\n'
            << "flowgate_retention_purged_total{what=\"runs\"} " << purged_runs_ << '\n';
    }
    return out.str();
}

}  // namespace flowgate::gateway
