{
  "targets": [
    {
      "target_name": "corral",
      "sources": ["src/native/corral.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-O2"],
      "cflags_c": ["-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
