// Must NOT compile: a process-pool task cannot carry a std::string argument.
#include "cfutures.hpp"
#include <string>
void f(cfut::ProcessPool &pool) {
  (void)pool.submit([](std::string s) { return s.size(); }, std::string("no"));
}
