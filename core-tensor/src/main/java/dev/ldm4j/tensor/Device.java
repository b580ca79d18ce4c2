// Where a tensor's storage lives.
package dev.ldm4j.tensor;

public enum Device {
    CPU, CUDA;

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
