// CLineEdit: line editing and history for the curio-lua REPL, on Debian's libedit
// (BSD licensed; readline-compatible API). Only the curio-lua executable links it.
#ifndef CLINEEDIT_H
#define CLINEEDIT_H

// Adds `curio.lineedit` to package.preload of the Lua state `L` (a lua_State*),
// in a protected call. Returns 0, or -1 if that failed (out of memory).
int curio_lineedit_install(void *L);

#endif
