// A SystemVerilog testbench calling the mxemu model through DPI-C (tests/test_dpi.py fills
// the two placeholders: a preset's setter calls from `mxemu presets NAME --calls`, and the
// vectors). Every argument is a DPI-friendly type: chandle, string, int, longint, and
// fixed-size arrays of int unsigned / byte unsigned (passed to C as pointers).
module tb;
  import "DPI-C" function chandle mxemu_config_new();
  import "DPI-C" function int mxemu_config_set(input chandle cfg, input string knob,
                                               input int value);
  import "DPI-C" function int mxemu_config_set_format(input chandle cfg, input string knob,
                                                      input chandle fmt);
  import "DPI-C" function chandle mxemu_format_named(input string name);
  import "DPI-C" function chandle mxemu_format_new(input int kind, input int exp_bits,
      input int man_bits, input int bias, input int is_signed, input int specials,
      input int subnormals);
  import "DPI-C" function int mxemu_dot(input chandle cfg, input longint k,
      input chandle a_fmt, input int unsigned a[32], input chandle b_fmt,
      input int unsigned b[32], input chandle scale_fmt, input byte unsigned a_scale[1],
      input int a_block, input byte unsigned b_scale[1], input int b_block,
      input chandle c_fmt, input int unsigned c, output int unsigned d,
      output byte unsigned flags);

  chandle cfg, e4m3, e8m0, fp32;
  int st;
  int unsigned a[32], b[32], d;
  byte unsigned sa[1], sb[1], fl;

  initial begin
    st = 0;
    // @CONFIG@
    e4m3 = mxemu_format_named("e4m3");
    e8m0 = mxemu_format_named("e8m0");
    fp32 = mxemu_format_named("fp32");
    // @CASES@
    $display("STATUS %0d", st);
    $finish;
  end
endmodule
