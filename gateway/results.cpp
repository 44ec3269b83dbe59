#include "gateway/results.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <variant>

#include "gateway/api_routes.hpp"

namespace flowgate::gateway::results {

using json = nlohmann::json;

namespace {

// Adds a result (or more categories of one already there) to `out`.
void add_column(std::vector<column>& out,
                std::map<std::string, std::size_t>& index,
                const std::string& name,
                const std::vector<std::string>& categories) {
    const std::string key = flows::result_key(name);
    if (key.empty()) {
        return;
    }
    auto [it, added] = index.emplace(key, out.size());
    if (added) {
        out.push_back(column{key, name, {}});
    }
    auto& cats = out[it->second].categories;
    for (const auto& c : categories) {
        if (!c.empty() && std::find(cats.begin(), cats.end(), c) == cats.end()) {
            cats.push_back(c);
        }
    }
}

void append_row(std::string& out, const std::vector<std::string>& fields) {
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (i > 0) {
            out += ',';
        }
        out += csv_field(fields[i]);
    }
    out += "\r\n";
}

}  // namespace

std::vector<column> flow_columns(const flows::flow& f) {
    std::vector<column> out;
    std::map<std::string, std::size_t> index;
    for (const auto& n : f.nodes) {
        for (const auto& a : n.actions) {
            if (const auto* set = std::get_if<flows::set_result_action>(&a)) {
                add_column(out, index, set->name, {set->category});
            } else if (const auto* hook = std::get_if<flows::webhook_action>(&a)) {
                if (!hook->result_name.empty()) {
                    add_column(out, index, hook->result_name, {"Success", "Failure"});
                }
            }
        }
        if (n.router && !n.router->result_name.empty()) {
            std::vector<std::string> cats;
            for (const auto& c : n.router->categories) {
                cats.push_back(c.name);
            }
            add_column(out, index, n.router->result_name, cats);
        }
    }
    return out;
}

std::vector<column> result_columns(const flows::flow& f, const std::vector<flow_run_row>& runs) {
    auto out = flow_columns(f);
    std::set<std::string> known;
    for (const auto& c : out) {
        known.insert(c.key);
    }
    for (const auto& run : runs) {
        for (const auto& [key, v] : run.values) {
            if (known.insert(key).second) {
                out.push_back(column{key, v.name.empty() ? key : v.name, {}});
            }
        }
    }
    return out;
}

json results_json(const flows::flow& f,
                  const std::vector<column>& columns,
                  const std::vector<flow_run_row>& runs,
                  bool identified) {
    json cols = json::array();
    for (const auto& c : columns) {
        cols.push_back({{"key", c.key}, {"name", c.name}});
    }
    json rows = json::array();
    for (const auto& run : runs) {
        json values = json::object();
        for (const auto& [key, v] : run.values) {
            values[key] = {{"value", v.value},
                           {"category", v.category},
                           {"text", v.input},
                           {"time", api::iso_utc(v.created_at)}};
        }
        json row = {{"run", run.id}, {"contact", run.contact_uuid}};
        if (identified) {
            row["name"] = run.contact_name;
            row["urn"] = run.urn;
        }
        row["status"] = run.status;
        row["started_at"] = api::iso_utc(run.started_at);
        row["exited_at"] = run.exited_at ? json(api::iso_utc(*run.exited_at)) : json(nullptr);
        row["values"] = std::move(values);
        rows.push_back(std::move(row));
    }
    return {{"flow", {{"id", f.id}, {"name", f.name}}}, {"results", cols}, {"runs", rows}};
}

std::string csv_field(std::string_view value) {
    std::string v;
    v.reserve(value.size() + 3);
    // A spreadsheet runs a cell starting with these as a formula (CSV injection): the apostrophe
    // makes it text.
    if (!value.empty() && (value[0] == '=' || value[0] == '+' || value[0] == '-' || value[0] == '@' ||
                           value[0] == '\t' || value[0] == '\r')) {
        v += '\'';
    }
    v += value;
    if (v.find_first_of(",\"\r\n") == std::string::npos) {
        return v;
    }
    std::string quoted = "\"";
    quoted.reserve(v.size() + 8);
    for (const char ch : v) {
        if (ch == '"') {
            quoted += '"';
        }
        quoted += ch;
    }
    quoted += '"';
    return quoted;
}

std::vector<std::string> csv_header(const std::vector<column>& columns, bool identified) {
    std::vector<std::string> out = {"Contact UUID"};
    if (identified) {
        out.insert(out.end(), {"Name", "URN"});
    }
    out.insert(out.end(), {"Run", "Status", "Started", "Exited"});
    for (const auto& c : columns) {
        out.push_back(c.name + " (Value)");
        out.push_back(c.name + " (Category)");
        out.push_back(c.name + " (Text)");
    }
    return out;
}

std::string results_csv(const std::vector<column>& columns,
                        const std::vector<flow_run_row>& runs,
                        bool identified) {
    std::string out = "\xEF\xBB\xBF";  // the BOM: spreadsheets then read the file as UTF-8
    append_row(out, csv_header(columns, identified));
    std::vector<std::string> fields;
    for (const auto& run : runs) {
        fields.clear();
        fields.push_back(run.contact_uuid);
        if (identified) {
            fields.push_back(run.contact_name);
            fields.push_back(run.urn);
        }
        fields.push_back(std::to_string(run.id));
        fields.push_back(run.status);
        fields.push_back(api::iso_utc(run.started_at));
        fields.push_back(run.exited_at ? api::iso_utc(*run.exited_at) : "");
        for (const auto& c : columns) {
            const auto it = run.values.find(c.key);
            if (it == run.values.end()) {
                fields.insert(fields.end(), 3, "");
            } else {
                fields.push_back(it->second.value);
                fields.push_back(it->second.category);
                fields.push_back(it->second.input);
            }
        }
        append_row(out, fields);
    }
    return out;
}

std::optional<double> median(std::vector<double> values) {
    if (values.empty()) {
        return std::nullopt;
    }
    const std::size_t mid = values.size() / 2;
    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
    const double upper = values[mid];
    if (values.size() % 2 == 1) {
        return upper;
    }
    const double lower = *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid));
    return (lower + upper) / 2;
}

flow_summary summarize(const std::vector<column>& columns, const std::vector<flow_run_row>& runs) {
    flow_summary s;
    s.runs = static_cast<std::int64_t>(runs.size());
    std::map<std::string, std::size_t> index;
    std::vector<std::map<std::string, std::size_t>> category_index(columns.size());
    std::vector<std::vector<double>> times(columns.size());
    for (std::size_t i = 0; i < columns.size(); ++i) {
        index.emplace(columns[i].key, i);
        question_summary q;
        q.key = columns[i].key;
        q.name = columns[i].name;
        for (const auto& name : columns[i].categories) {
            category_index[i].emplace(name, q.categories.size());
            q.categories.push_back({name, 0});
        }
        s.questions.push_back(std::move(q));
    }
    std::vector<timestamp> saved;
    for (const auto& run : runs) {
        if (run.status == "active") {
            ++s.active;
        } else if (run.status == "completed") {
            ++s.completed;
        } else if (run.status == "expired") {
            ++s.expired;
        } else if (run.status == "interrupted") {
            ++s.interrupted;
        } else if (run.status == "failed") {
            ++s.failed;
        }
        saved.clear();
        for (const auto& [key, v] : run.values) {
            saved.push_back(v.created_at);
        }
        std::sort(saved.begin(), saved.end());
        for (const auto& [key, v] : run.values) {
            const auto it = index.find(key);
            if (it == index.end()) {
                continue;
            }
            auto& q = s.questions[it->second];
            if (!v.category.empty()) {
                auto& cats = category_index[it->second];
                const auto [c, added] = cats.emplace(v.category, q.categories.size());
                if (added) {
                    q.categories.push_back({v.category, 0});
                }
                ++q.categories[c->second].count;
            }
            if (v.value.empty()) {
                continue;  // a wait that timed out: counted in its category, not as a response
            }
            ++q.responses;
            // The latest result saved strictly before this one, else the run's start.
            const auto before = std::lower_bound(saved.begin(), saved.end(), v.created_at);
            const timestamp asked = before == saved.begin() ? run.started_at : *(before - 1);
            const auto ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(v.created_at - asked).count();
            times[it->second].push_back(static_cast<double>(std::max<std::int64_t>(ms, 0)) / 1000.0);
        }
    }
    for (std::size_t i = 0; i < s.questions.size(); ++i) {
        auto& q = s.questions[i];
        q.response_rate = s.runs == 0 ? 0.0 : static_cast<double>(q.responses) / static_cast<double>(s.runs);
        q.median_seconds = median(std::move(times[i]));
    }
    return s;
}

json summary_json(const flows::flow& f, const flow_summary& s) {
    json questions = json::array();
    for (const auto& q : s.questions) {
        json cats = json::array();
        for (const auto& c : q.categories) {
            cats.push_back({{"name", c.name}, {"count", c.count}});
        }
        questions.push_back({{"key", q.key},
                             {"name", q.name},
                             {"responses", q.responses},
                             {"response_rate", q.response_rate},
                             {"median_seconds", q.median_seconds ? json(*q.median_seconds) : json(nullptr)},
                             {"categories", cats}});
    }
    return {{"flow", {{"id", f.id}, {"name", f.name}}},
            {"runs", s.runs},
            {"active", s.active},
            {"completed", s.completed},
            {"expired", s.expired},
            {"interrupted", s.interrupted},
            {"failed", s.failed},
            {"questions", questions}};
}

std::string csv_file_name(std::string_view flow_id) {
    std::string out;
    for (const char ch : flow_id) {
        const bool safe = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                          ch == '.' || ch == '_' || ch == '-';
        out += safe ? ch : '_';
    }
    return out + "-results.csv";
}

}  // namespace flowgate::gateway::results
