// The Prometheus histograms /metrics renders: cumulative buckets, the +Inf bucket, sum and count.

#include "gateway/metrics.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace flowgate::gateway {
namespace {

using std::chrono::microseconds;

TEST(metrics, job_waits_fill_cumulative_buckets) {
    metrics m;
    m.observe_job_waits({microseconds(300), microseconds(3000)});
    m.observe_job_waits({microseconds(30000), microseconds(3'000'000)});
    const std::string text = m.render();
    const std::vector<std::string> expected = {
        "# TYPE flowgate_store_job_wait_seconds histogram\n",
        "flowgate_store_job_wait_seconds_bucket{le=\"0.0005\"} 1\n",
        "flowgate_store_job_wait_seconds_bucket{le=\"0.002\"} 1\n",
        "flowgate_store_job_wait_seconds_bucket{le=\"0.005\"} 2\n",
        "flowgate_store_job_wait_seconds_bucket{le=\"0.02\"} 2\n",
        "flowgate_store_job_wait_seconds_bucket{le=\"0.05\"} 3\n",
        "flowgate_store_job_wait_seconds_bucket{le=\"2.5\"} 3\n",
        "flowgate_store_job_wait_seconds_bucket{le=\"+Inf\"} 4\n",
        "flowgate_store_job_wait_seconds_sum 3.0333\n",
        "flowgate_store_job_wait_seconds_count 4\n",
    };
    for (const auto& line : expected) {
        EXPECT_NE(text.find(line), std::string::npos) << line;
    }
}

TEST(metrics, housekeeping_is_a_histogram_of_its_own) {
    metrics m;
    m.observe_housekeeping(microseconds(4000));
    const std::string text = m.render();
    EXPECT_NE(text.find("# TYPE flowgate_store_housekeeping_seconds histogram\n"), std::string::npos);
    EXPECT_NE(text.find("flowgate_store_housekeeping_seconds_bucket{le=\"0.002\"} 0\n"), std::string::npos);
    EXPECT_NE(text.find("flowgate_store_housekeeping_seconds_bucket{le=\"0.005\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("flowgate_store_housekeeping_seconds_count 1\n"), std::string::npos);
    EXPECT_NE(text.find("flowgate_store_job_wait_seconds_count 0\n"), std::string::npos)
        << "not a job's wait";
}

TEST(metrics, an_empty_histogram_still_renders) {
    const std::string text = metrics().render();
    EXPECT_NE(text.find("flowgate_store_job_wait_seconds_bucket{le=\"+Inf\"} 0\n"), std::string::npos);
    EXPECT_NE(text.find("flowgate_store_job_wait_seconds_count 0\n"), std::string::npos);
}

}  // namespace
}  // namespace flowgate::gateway
