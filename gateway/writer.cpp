#include "gateway/writer.hpp"

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <pthread.h>

#include <algorithm>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <exception>
#include <memory>

#include "gateway/log.hpp"
#include "gateway/pq.hpp"
#include "gateway/sqlite.hpp"
#include "handlers/urn.hpp"

namespace flowgate::gateway {

namespace asio = boost::asio;

writer::writer(store& s, metrics& m, std::size_t max_batch) : store_(s), metrics_(m), max_batch_(max_batch) {
    const std::size_t n = std::max<std::size_t>(1, s.write_lanes());
    for (std::size_t i = 0; i < n; ++i) {
        lanes_.push_back(std::make_unique<lane>());
        lanes_.back()->index = i;
    }
}

writer::~writer() { stop(); }

void writer::start() {
    for (auto& l : lanes_) {
        std::lock_guard lock(l->mutex);
        if (l->running) {
            continue;
        }
        l->running = true;
        l->stopping = false;
        l->thread = std::thread([this, &l = *l] { run(l); });
    }
}

void writer::stop() {
    for (auto& l : lanes_) {
        {
            std::lock_guard lock(l->mutex);
            if (!l->running) {
                continue;
            }
            l->stopping = true;
        }
        l->cv.notify_all();
        l->thread.join();
        std::lock_guard lock(l->mutex);
        l->running = false;
    }
}

void writer::submit(job j, completion done, then after, std::size_t key) {
    lane& l = *lanes_[key % lanes_.size()];
    {
        std::unique_lock lock(l.mutex);
        if (!l.running || l.stopping) {
            lock.unlock();
            done(write_status::unavailable);
            return;
        }
        l.queue.push_back(item{std::move(j), std::move(done), after});
    }
    l.cv.notify_one();
}

namespace {
// A write's completion: resumes the awaiting coroutine on its own executor with the status. The
// handler is move-only; shared, so that the completion can be a std::function, and its executor
// kept busy until then.
template <class Handler>
writer::completion resume_with(Handler handler) {
    auto h = std::make_shared<Handler>(std::move(handler));
    auto work = std::make_shared<asio::executor_work_guard<asio::associated_executor_t<Handler>>>(
        asio::get_associated_executor(*h));
    return [h, work](write_status status) {
        asio::post(work->get_executor(), [h, work, status]() mutable { (*h)(status); });
    };
}

// The initiations of write() and write_all(): named types, not lambda temporaries inside a
// co_await expression (g++ 12 can destroy such temporaries twice).
struct initiate_write {
    writer* self;

    template <class Handler>
    void operator()(Handler handler, writer::job j, writer::then after, std::size_t key) const {
        self->submit(std::move(j), resume_with(std::move(handler)), after, key);
    }
};

struct initiate_write_all {
    writer* self;

    template <class Handler>
    void operator()(Handler handler, std::vector<std::pair<std::size_t, writer::job>> jobs) const {
        auto answer = resume_with(std::move(handler));
        if (jobs.empty()) {
            answer(write_status::committed);
            return;
        }
        // The jobs' completions run on the writer threads; the last one answers.
        struct tally {
            std::mutex mutex;
            std::size_t left = 0;
            write_status worst = write_status::committed;
        };
        auto t = std::make_shared<tally>();
        t->left = jobs.size();
        for (auto& [key, j] : jobs) {
            self->submit(
                std::move(j),
                [answer, t](write_status status) {
                    write_status worst;
                    {
                        std::lock_guard lock(t->mutex);
                        if (status == write_status::unavailable ||
                            (status == write_status::failed && t->worst == write_status::committed)) {
                            t->worst = status;
                        }
                        if (--t->left > 0) {
                            return;
                        }
                        worst = t->worst;
                    }
                    answer(worst);
                },
                writer::then::nothing,
                key);
        }
    }
};
}  // namespace

// Not a coroutine itself: the job travels as an argument into the awaitable's own frame.
asio::awaitable<write_status> writer::write(job j, then after, std::size_t key) {
    return asio::async_initiate<const asio::use_awaitable_t<>, void(write_status)>(
        initiate_write{this}, asio::use_awaitable, std::move(j), after, key);
}

asio::awaitable<write_status> writer::write_all(std::vector<std::pair<std::size_t, job>> jobs) {
    return asio::async_initiate<const asio::use_awaitable_t<>, void(write_status)>(
        initiate_write_all{this}, asio::use_awaitable, std::move(jobs));
}

std::size_t writer::key_for(std::string_view urn) const { return lanes_.size() > 1 ? key_of(urn) : 0; }

std::size_t writer::key_of(std::string_view urn) {
    const auto sibling = handlers::same_number_urn(urn);
    return std::hash<std::string_view>{}(sibling ? std::min<std::string_view>(urn, *sibling) : urn);
}

std::size_t writer::next_group(std::size_t waiting, std::size_t max_batch) {
    return std::min({waiting, max_batch, std::max(split_from, (waiting + 1) / 2)});
}

void writer::run(lane& l) {
    // Named so that top -H, perf and the bench can tell the writer's CPU from the I/O threads'
    // (the bench counts every thread whose name starts with "fg-writer").
    const std::string name = l.index == 0 ? "fg-writer" : "fg-writer-" + std::to_string(l.index);
    pthread_setname_np(pthread_self(), name.c_str());
    for (;;) {
        std::deque<item> batch;
        {
            std::unique_lock lock(l.mutex);
            l.cv.wait(lock, [&] { return l.stopping || !l.queue.empty(); });
            if (l.queue.empty() && l.stopping) {
                return;
            }
            const std::size_t take = next_group(l.queue.size(), max_batch_);
            while (batch.size() < take) {
                batch.push_back(std::move(l.queue.front()));
                l.queue.pop_front();
            }
        }
        commit_batch(l, batch);
        // A large group means jobs arrive faster than one commit takes: the writer is the
        // bottleneck, and its housekeeping should cost it as little as it can.
        const bool busy = batch.size() >= busy_group;
        try {
            const auto started = std::chrono::steady_clock::now();
            if (store_.between_groups(busy)) {
                metrics_.observe_housekeeping(std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - started));
            }
        } catch (const std::exception& e) {
            log::warn("writer", std::string("housekeeping between groups failed: ") + e.what());
        }
    }
}

writer::attempt writer::try_optimistic(lane& l, std::deque<item>& batch) {
    if (!store_.optimistic_groups()) {
        return attempt::with_savepoints;
    }
    std::unique_ptr<write_tx> tx;
    try {
        tx = store_.begin_write_on(l.index);
    } catch (const std::exception&) {
        return attempt::with_savepoints;  // which begins again, and says why if it cannot
    }
    bool committing = false;
    try {
        for (auto& i : batch) {
            tx->next_job();
            i.work(*tx);
        }
        committing = true;
        tx->commit();
        return attempt::committed;
    } catch (const pq::error& e) {
        // A deferred statement's error comes with the COMMIT too (the server then rolls back): run
        // again. But a connection lost at the COMMIT does not say whether it was done, and the
        // group run again, on a new connection, could do it twice.
        if (committing && e.is_resource_error()) {
            return attempt::in_doubt;
        }
    } catch (const std::exception&) {
    }
    // Rolled back with `tx`. Run with savepoints, the group meets the failure again and rolls back
    // only the job that fails, or fails whole on a resource error, and says so.
    metrics_.count_group_retry();
    return attempt::with_savepoints;
}

void writer::commit_batch(lane& l, std::deque<item>& batch) {
    const auto started = std::chrono::steady_clock::now();
    std::vector<write_status> statuses(batch.size(), write_status::committed);
    bool committed = false;
    switch (try_optimistic(l, batch)) {
        case attempt::committed:
            finish_batch(batch, statuses, true, started);
            return;
        case attempt::in_doubt:
            log::error("writer", "commit failed, its outcome unknown; answering 503 so providers retry");
            finish_batch(batch, statuses, false, started);
            return;
        case attempt::with_savepoints:
            break;
    }
    // With several instances on one PostgreSQL: a job that would wait for a lock another instance
    // holds, after this transaction has taken locks of its own, goes back to the head of the queue
    // with every job after it (their order kept). It runs first in the next transaction, where it
    // may wait: two instances' transactions never wait for each other in a cycle. So with two
    // lanes of one instance.
    std::size_t deferred_from = batch.size();
    try {
        auto tx = store_.begin_write_on(l.index);
        for (std::size_t i = 0; i < batch.size(); ++i) {
            tx->savepoint();
            try {
                batch[i].work(*tx);
                tx->release();
            } catch (const sqlite::error& e) {
                if (e.is_resource_error()) {
                    throw;  // the whole transaction is in doubt: fail the batch
                }
                log::error("writer", std::string("a write job failed and was rolled back: ") + e.what());
                tx->rollback_to();
                statuses[i] = write_status::failed;
            } catch (const pq::error& e) {
                if (e.is_resource_error()) {
                    throw;  // the connection is gone: the whole transaction is in doubt
                }
                tx->rollback_to();
                if (e.is_lock_conflict() && i > 0) {
                    deferred_from = i;
                    break;
                }
                if (e.is_lock_conflict()) {
                    // Even the first job, which may wait, waited too long: another instance is stuck.
                    log::warn("writer", std::string("a write job waited too long for a lock: ") + e.what());
                    statuses[i] = write_status::unavailable;
                } else {
                    log::error("writer", std::string("a write job failed and was rolled back: ") + e.what());
                    statuses[i] = write_status::failed;
                }
            } catch (const std::exception& e) {
                log::error("writer", std::string("a write job failed and was rolled back: ") + e.what());
                tx->rollback_to();
                statuses[i] = write_status::failed;
            }
        }
        tx->commit();
        committed = true;
    } catch (const std::exception& e) {
        log::error("writer", std::string("commit failed; answering 503 so providers retry: ") + e.what());
    }
    if (deferred_from < batch.size()) {
        std::lock_guard lock(l.mutex);
        for (std::size_t i = batch.size(); i-- > deferred_from;) {
            l.queue.push_front(std::move(batch[i]));
        }
        batch.resize(deferred_from);
        statuses.resize(deferred_from);
    }
    finish_batch(batch, statuses, committed, started);
}

void writer::finish_batch(std::deque<item>& batch,
                          const std::vector<write_status>& statuses,
                          bool committed,
                          std::chrono::steady_clock::time_point started) {
    healthy_ = committed;
    if (committed) {
        metrics_.observe_commit(
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started),
            batch.size());
    }
    if (committed &&
        std::any_of(batch.begin(), batch.end(), [](const item& i) { return i.after == then::checkpoint; })) {
        try {
            if (!store_.checkpoint()) {
                log::warn("writer", "could not checkpoint now (a reader holds the log); a later one will");
            }
        } catch (const std::exception& e) {
            log::warn("writer",
                      std::string("checkpoint failed; a later one will copy the pages: ") + e.what());
        }
    }
    const auto answered = std::chrono::steady_clock::now();
    std::vector<std::chrono::microseconds> waits;
    waits.reserve(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
        waits.push_back(std::chrono::duration_cast<std::chrono::microseconds>(answered - batch[i].queued_at));
        batch[i].done(committed ? statuses[i] : write_status::unavailable);
    }
    metrics_.observe_job_waits(waits);
}

}  // namespace flowgate::gateway
