#pragma once

namespace redisdr {

// Readiness with hysteresis: it takes `failures` consecutive failed checks to
// become unready and `successes` consecutive good ones to become ready again, so
// one lost ping (or a failover of a few seconds) does not pull every app pod out
// of the load balancer at once.
class Hysteresis {
public:
    Hysteresis(int failures, int successes) : failures_(failures), successes_(successes) {}

    bool record(bool ok) {
        if (ok) {
            badRun_ = 0;
            if (++goodRun_ >= successes_) state_ = true;
        } else {
            goodRun_ = 0;
            if (++badRun_ >= failures_) state_ = false;
        }
        return state_;
    }

private:
    int failures_;
    int successes_;
    int goodRun_ = 0;
    int badRun_ = 0;
    bool state_ = false;  // not ready until the first successes
};

}  // namespace redisdr
