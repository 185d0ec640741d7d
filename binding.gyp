{
  "targets": [
    {
      "target_name": "gateway_io",
      "sources": ["native/gateway_io.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [["OS!='linux'", {"type": "none", "sources": []}]]
    }
  ]
}
