// b200-mxf8f6f4-e4m3-e4m3: one case of the .memh vectors (mxemu golden, golden/README.md)
typedef struct packed {
  logic [0:31][7:0] a;
  logic [0:31][7:0] b;
  logic [7:0] sa;
  logic [7:0] sb;
  logic [31:0] c;
  logic [31:0] d;
  logic [7:0] flags;
} b200_mxf8f6f4_e4m3_e4m3_case_t;  // 600 bits
localparam int B200_MXF8F6F4_E4M3_E4M3_CASES = 376;
