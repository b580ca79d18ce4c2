// Where the kernels' PTX comes from on this machine: the bundled PTX (built by nvcc 13, so it needs a
// driver for that CUDA release or newer) or, under an older driver, PTX compiled at run time from the
// bundled .cu sources by NVRTC. choose() is the whole decision, kept free of CUDA calls so it can be tested.
package dev.ldm4j.kernels;

import java.util.function.Supplier;

enum PtxSource {
    /** The committed PTX under dev/ldm4j/kernels/ptx, loaded as it is. */
    BUNDLED,
    /** The .cu sources under dev/ldm4j/kernels/cuda, compiled by NVRTC for the device's architecture. */
    NVRTC;

    /** A source, or (source null) one line saying why no PTX can be had. */
    record Choice(PtxSource source, String unavailable) {
    }

    /**
     * Picks the PTX source for a driver of driverVersion (cuDriverGetVersion units, 1000 * major + 10 *
     * minor) when the bundled PTX needs ptxNeeds. nvrtc is asked only when the bundled PTX cannot load.
     */
    static Choice choose(int driverVersion, int ptxNeeds, Supplier<Nvrtc.Status> nvrtc) {
        if (driverVersion >= ptxNeeds) {
            return new Choice(BUNDLED, null);
        }
        String prefix = "the bundled PTX needs a CUDA " + Ptx.cudaVersionLabel(ptxNeeds) + " driver (this one supports CUDA "
                + Ptx.cudaVersionLabel(driverVersion) + ") and run-time compilation is unavailable: ";
        Nvrtc.Status s = nvrtc.get();
        if (s.problem() != null) {
            return new Choice(null, prefix + s.problem());
        }
        // NVRTC writes the PTX ISA of its own release, which a driver of an older release rejects.
        if (s.version() > driverVersion) {
            return new Choice(null, prefix + Nvrtc.LIBRARY + " is from CUDA " + Ptx.cudaVersionLabel(s.version())
                    + ", newer than the driver; update the driver or use an NVRTC no newer than it");
        }
        return new Choice(NVRTC, null);
    }
}
