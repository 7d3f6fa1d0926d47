// SPDX-License-Identifier: MIT
#include "resolver/upstream/faulty.hpp"

#include "resolver/net/transport.hpp"
#include "resolver/wire/message.hpp"

namespace resolver::upstream {

FaultyUpstream::FaultyUpstream(uv_loop_t* loop, UpstreamPtr inner,
                               std::shared_ptr<fault::LivePlan> plan, std::string transport,
                               std::string url, unsigned timeout_ms)
    : loop_(loop), inner_(std::move(inner)), plan_(std::move(plan)),
      transport_(std::move(transport)), url_(std::move(url)), timeout_ms_(timeout_ms) {}

Result<std::unique_ptr<FaultyUpstream>>
FaultyUpstream::create(uv_loop_t* loop, UpstreamPtr inner, std::shared_ptr<fault::LivePlan> plan,
                       std::string transport, std::string url, unsigned timeout_ms) {
    auto later = DelayedCompletions::create(loop, fail(Errc::UpstreamFailure, url + ": shut down"));
    if (!later) {
        return later.error();
    }
    std::unique_ptr<FaultyUpstream> up(new FaultyUpstream(
        loop, std::move(inner), std::move(plan), std::move(transport), std::move(url), timeout_ms));
    up->later_ = std::move(later).value();
    return up;
}

FaultyUpstream::~FaultyUpstream() {
    shutdown();
    *alive_ = false;
}

void FaultyUpstream::send(std::vector<std::uint8_t> query, Completion done) {
    if (shut_down_) {
        done(fail(Errc::UpstreamFailure, url_ + ": shut down"));
        return;
    }
    auto parsed = wire::parse(query);
    const fault::FaultRule* rule = nullptr;
    if (parsed && parsed.message->question.size() == 1) {
        rule = plan_->current().match(parsed.message->question[0].qname,
                                      parsed.message->question[0].qtype, transport_);
    }
    if (rule == nullptr) {
        inner_->send(std::move(query), std::move(done));
        return;
    }
    const fault::FaultAction fault = rule->action; // the plan may be replaced meanwhile
    if (fault.drop || fault.delay_ms >= timeout_ms_) {
        later_->schedule(timeout_ms_,
                         fail(Errc::UpstreamTimeout, url_ + ": no answer within " +
                                                         std::to_string(timeout_ms_) +
                                                         " ms (injected " + fault.describe() + ")"),
                         std::move(done));
        return;
    }
    wire::Message q = *parsed.message;
    std::weak_ptr<bool> alive = alive_;
    inner_->send(std::move(query), [this, alive, fault, q = std::move(q),
                                    done = std::move(done)](Result<Exchange> r) mutable {
        if (r && fault.reset_after && transport_ != net::transport_name(net::Transport::Udp)) {
            r = fail(Errc::UpstreamFailure, url_ + ": connection reset after " +
                                                std::to_string(*fault.reset_after) +
                                                " bytes of the answer (injected)");
        } else if (r && !r->wire.empty()) {
            if (fault.rcode || fault.tc) {
                if (auto m = wire::parse(r->wire)) {
                    fault::apply_message_faults(fault, q, *m.message, nullptr);
                    r->wire = wire::serialize(*m.message);
                }
            }
            fault::apply_wire_faults(fault, r->wire);
        }
        auto flag = alive.lock();
        if (!flag || !*flag || shut_down_ || fault.delay_ms == 0) {
            done(std::move(r));
            return;
        }
        later_->schedule(fault.delay_ms, std::move(r), std::move(done));
    });
}

void FaultyUpstream::shutdown() {
    if (shut_down_) {
        return;
    }
    shut_down_ = true;
    if (inner_) {
        inner_->shutdown(); // its pending completions run now, through our callbacks
    }
    later_->cancel_all(); // every Completion runs once
}

bool has_fault_params(const util::Url& url) {
    return url.scheme != util::kSchemeFixture && fault::LivePlan::in(url.params);
}

} // namespace resolver::upstream
