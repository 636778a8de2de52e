// Must NOT compile: a bytes (process-pool) task cannot carry a std::string argument.
#include "cfutures.hpp"
#include <string>
void f(cfut::ThreadPool &pool) {
  (void)pool.submit_bytes([](std::string s) { return s.size(); }, std::string("no"));
}
