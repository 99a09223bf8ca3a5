{
  "targets": [
    {
      "target_name": "osprey_shm",
      "sources": ["shm.cc"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
