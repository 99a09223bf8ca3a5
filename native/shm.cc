// System shared memory for Osprey: open an existing POSIX shared-memory object
// (never create one), map a window of it read-write, and hand that window to JS
// as an external ArrayBuffer. Plain Node-API (C), so one build serves every Node
// version with the same N-API level.
//
// Ownership: each mapping is owned by its ArrayBuffer. `unmap(ab)` detaches the
// ArrayBuffer (no JS view can reach the memory afterwards) and unmaps at once;
// the ArrayBuffer's finalizer unmaps only if that never happened (process exit,
// or a region JS forgot). Every call runs on the main JS thread: workers never
// see these buffers (tensor bytes are copied into the batch first).
#include <node_api.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

struct Mapping {
  void* base;       // what mmap returned (page aligned)
  size_t length;    // what was mapped
  bool unmapped;
};

// Live mappings: data pointer handed to JS -> its record; main thread only.
std::unordered_map<void*, Mapping*> mappings;

napi_value Throw(napi_env env, const char* code, const std::string& message) {
  napi_throw_error(env, code, message.c_str());
  return nullptr;
}

bool GetSize(napi_env env, napi_value v, uint64_t* out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  if (!(d >= 0) || d > 9007199254740991.0 || d != static_cast<double>(static_cast<uint64_t>(d))) return false;
  *out = static_cast<uint64_t>(d);
  return true;
}

// The record travels as the finalize hint, so a later mapping at the same
// address (after an unmap) is never mistaken for this one.
void Finalize(napi_env, void* data, void* hint) {
  auto* m = static_cast<Mapping*>(hint);
  if (!m->unmapped) {
    auto it = mappings.find(data);
    if (it != mappings.end() && it->second == m) mappings.erase(it);
    munmap(m->base, m->length);
  }
  delete m;
}

// open(key: string, offset: number, byteSize: number): ArrayBuffer
// Errors carry a code: ENOENT-like open failures 'OPEN', size checks 'RANGE',
// anything else 'MAP'; the message has the errno text.
napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc != 3) return Throw(env, "ARGS", "open(key, offset, byteSize)");
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], nullptr, 0, &len) != napi_ok) return Throw(env, "ARGS", "key must be a string");
  std::string key(len, '\0');
  napi_get_value_string_utf8(env, argv[0], &key[0], len + 1, &len);
  uint64_t offset, size;
  if (!GetSize(env, argv[1], &offset) || !GetSize(env, argv[2], &size)) return Throw(env, "ARGS", "offset and byteSize must be non-negative integers");

  // O_RDWR only: an object that does not exist is an error, never created.
  int fd = shm_open(key.c_str(), O_RDWR, 0);
  if (fd < 0) return Throw(env, "OPEN", std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return Throw(env, "OPEN", std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return Throw(env, "OPEN", "not a shared memory object");
  }
  uint64_t have = static_cast<uint64_t>(st.st_size);
  if (size == 0 || offset > have || size > have - offset) {
    close(fd);
    return Throw(env, "RANGE", "offset + byte_size exceeds the object");
  }
  long page = sysconf(_SC_PAGESIZE);
  uint64_t aligned = offset - offset % static_cast<uint64_t>(page);
  size_t delta = static_cast<size_t>(offset - aligned);
  size_t length = static_cast<size_t>(size) + delta;
  void* base = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(aligned));
  int e = errno;
  close(fd);  // the mapping keeps the object alive
  if (base == MAP_FAILED) return Throw(env, "MAP", std::strerror(e));

  void* data = static_cast<char*>(base) + delta;
  auto* m = new Mapping{base, length, false};
  mappings[data] = m;
  napi_value ab;
  napi_status s = napi_create_external_arraybuffer(env, data, static_cast<size_t>(size), Finalize, m, &ab);
  if (s != napi_ok) {
    mappings.erase(data);
    munmap(base, length);
    delete m;
    return Throw(env, "MAP", "cannot create an external ArrayBuffer on this runtime");
  }
  return ab;
}

// unmap(ab: ArrayBuffer): detach it and unmap now. Returns false if it was not
// a mapping from open() or was already unmapped.
napi_value Unmap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  napi_value result;
  bool is_ab = false;
  if (argc < 1 || napi_is_arraybuffer(env, argv[0], &is_ab) != napi_ok || !is_ab) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  void* data = nullptr;
  size_t n = 0;
  napi_get_arraybuffer_info(env, argv[0], &data, &n);
  auto it = mappings.find(data);
  if (it == mappings.end()) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  // Detach first: after this no JS view can touch the memory we unmap.
  if (napi_detach_arraybuffer(env, argv[0]) != napi_ok) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  Mapping* m = it->second;
  mappings.erase(it);
  munmap(m->base, m->length);
  m->unmapped = true;  // Finalize frees the record
  napi_get_boolean(env, true, &result);
  return result;
}

// mapped(): how many mappings are live (tests check nothing leaks).
napi_value Mapped(napi_env env, napi_callback_info) {
  napi_value result;
  napi_create_uint32(env, static_cast<uint32_t>(mappings.size()), &result);
  return result;
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"open", nullptr, Open, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"unmap", nullptr, Unmap, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"mapped", nullptr, Mapped, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
