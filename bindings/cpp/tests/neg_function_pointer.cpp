// Must NOT compile: a function pointer means nothing in another process.
#include "cfutures.hpp"
int twice(int x) { return 2 * x; }
void f(cfut::ThreadPool &pool) { (void)pool.submit_bytes(&twice, 21); }
