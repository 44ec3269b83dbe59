#pragma once
// A flow's results for staff (docs/api.md, "Flows and results"): the export table as JSON or CSV,
// and the summary. Pure functions over the rows the store reads (store::list_flow_runs).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flows/model.hpp"
#include "gateway/store.hpp"

namespace flowgate::gateway::results {

// A result a flow saves: its key, its name as the author wrote it, and its categories in the
// order the flow defines them.
struct column {
    std::string key;
    std::string name;
    std::vector<std::string> categories;

    friend bool operator==(const column&, const column&) = default;
};

// The results `f` saves, in the order of its nodes (a node's actions, then its router), each key
// once: routers with a result name, set_run_result actions and webhook calls with a result name.
std::vector<column> flow_columns(const flows::flow& f);

// flow_columns, then every key the runs hold that the flow does not save (any more), in the
// order first met.
std::vector<column> result_columns(const flows::flow& f, const std::vector<flow_run_row>& runs);

// {"flow": {"id", "name"}, "results": [{"key", "name"}], "runs": [{"run", "contact", ["name", "urn"],
// "status", "started_at", "exited_at", "values": {KEY: {"value", "category", "text", "time"}}}]}
nlohmann::json results_json(const flows::flow& f,
                            const std::vector<column>& columns,
                            const std::vector<flow_run_row>& runs,
                            bool identified);

// One CSV field: a value that a spreadsheet would read as a formula (it starts with =, +, -, @,
// a tab or a CR) gets a leading apostrophe; then RFC 4180 quoting (a field holding a comma, a
// quote, CR or LF is quoted, its quotes doubled).
std::string csv_field(std::string_view value);

// The header row's names.
std::vector<std::string> csv_header(const std::vector<column>& columns, bool identified);

// The export as CSV: UTF-8 with a BOM, CRLF line ends, the header then one row per run.
std::string results_csv(const std::vector<column>& columns,
                        const std::vector<flow_run_row>& runs,
                        bool identified);

struct category_count {
    std::string name;
    std::int64_t count = 0;

    friend bool operator==(const category_count&, const category_count&) = default;
};

struct question_summary {
    std::string key;
    std::string name;
    std::int64_t responses = 0;  // runs whose result has a value
    double response_rate = 0;    // responses / runs (0 without runs)
    std::optional<double> median_seconds;
    std::vector<category_count> categories;  // the flow's, in its order (0 included), then others
};

struct flow_summary {
    std::int64_t runs = 0;
    std::int64_t active = 0;
    std::int64_t completed = 0;
    std::int64_t expired = 0;
    std::int64_t interrupted = 0;
    std::int64_t failed = 0;
    std::vector<question_summary> questions;
};

// Response times: a result's time less the time its question was asked, taken as the time of the
// run's latest result saved before it (an answer moves a run on to its next question), or the
// run's start for its first.
flow_summary summarize(const std::vector<column>& columns, const std::vector<flow_run_row>& runs);

nlohmann::json summary_json(const flows::flow& f, const flow_summary& s);

// The median; nullopt for none. Even counts: the mean of the middle two.
std::optional<double> median(std::vector<double> values);

// A file name for the export: the flow's id with anything but letters, digits, '.', '_' and '-'
// replaced by '_', then "-results.csv".
std::string csv_file_name(std::string_view flow_id);

}  // namespace flowgate::gateway::results
