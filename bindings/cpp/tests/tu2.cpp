// A second translation unit including cfutures.hpp: linking it with test_cfutures.cpp fails
// if the header has any non-inline definition (the double-include test).
#include "cfutures.hpp"

int second_tu_square(cfut::ThreadPool &pool, int x) {
  return pool.submit([](int v) { return v * v; }, x).get();
}

std::string second_tu_error_name() {
  try {
    cfut::throw_status(CFUT_TIMEOUT);
  } catch (const cfut::timeout_error &e) {
    return e.status_name();
  }
  return "";
}
