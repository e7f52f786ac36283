#ifndef IDEM_TESTS_SUPPORT_METRICS_SCRAPE_H_
#define IDEM_TESTS_SUPPORT_METRICS_SCRAPE_H_

#include <map>
#include <string>

namespace idem::testing {

// A loopback port that was free a moment ago: for IDEM_METRICS_LISTEN.
int FreeLoopbackPort();

// GET /metrics from 127.0.0.1:`port`: the reply as text ("" when refused).
std::string Scrape(int port);

// The idem_* samples of a scrape: name with its labels, as printed, to
// value.
std::map<std::string, double> Samples(const std::string& text);

}  // namespace idem::testing

#endif  // IDEM_TESTS_SUPPORT_METRICS_SCRAPE_H_
