/* Internal interface of the transfer codec (codec.c) for workers.c and universal.c. */
#ifndef CL_CODEC_H
#define CL_CODEC_H
#include <lua.h>
#include "cl_workers.h"

#define CODEC_MAXDEPTH 200
#define CODEC_MAXSIZE ((size_t)1 << 30)

/* Encodes stack values first..last into m; 0, or -1 with the TransferError message
   pushed ("argument #2 field 'x': userdata"). May raise (memory). */
int codec_encode_range(lua_State *L, cl_msg *m, int first, int last, const char *what, int pos0,
                       int handles);
/* Pushes the values encoded in p..p+len; returns their count. Raises on corrupt
   bytes. `m` supplies handles (NULL: none allowed). */
int codec_decode(lua_State *L, const char *p, size_t len, cl_msg *m);
/* Pushes a message box owning m (may raise). */
cl_msg **codec_newbox(lua_State *L, cl_msg *m);
#endif
