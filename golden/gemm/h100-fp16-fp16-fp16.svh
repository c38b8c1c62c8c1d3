// h100-fp16-fp16-fp16: one case of the .memh vectors (mxemu golden, golden/README.md)
typedef struct packed {
  logic [0:15][15:0] a;
  logic [0:15][15:0] b;
  logic [31:0] c;
  logic [31:0] d;
  logic [7:0] flags;
} h100_fp16_fp16_fp16_case_t;  // 584 bits
localparam int H100_FP16_FP16_FP16_CASES = 1632;
