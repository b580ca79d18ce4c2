// The block structure of an SD U-Net that decides how original (CompVis) block indices map onto
// diffusers blocks: the number of resolution levels, resnets per down level, and which down levels
// carry attention (up level u mirrors down level levels-1-u). The middle block always has one.
package dev.ldm4j.weights.keys;

import java.util.Arrays;

public record UNetStructure(int layersPerBlock, boolean[] downAttention) {
    public UNetStructure {
        if (layersPerBlock < 1 || downAttention.length < 1) {
            throw new IllegalArgumentException("U-Net structure needs layersPerBlock >= 1 and at least one level, got "
                    + layersPerBlock + " and " + downAttention.length + " levels");
        }
        downAttention = downAttention.clone();
    }

    public int levels() {
        return downAttention.length;
    }

    public boolean downHasAttention(int level) {
        return downAttention[level];
    }

    /** Up level u (0 = deepest) mirrors down level levels-1-u. */
    public boolean upHasAttention(int u) {
        return downAttention[levels() - 1 - u];
    }

    @Override
    public boolean[] downAttention() {
        return downAttention.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof UNetStructure s && s.layersPerBlock == layersPerBlock && Arrays.equals(s.downAttention, downAttention);
    }

    @Override
    public int hashCode() {
        return layersPerBlock * 31 + Arrays.hashCode(downAttention);
    }

    @Override
    public String toString() {
        return "UNetStructure[layersPerBlock=" + layersPerBlock + ", downAttention=" + Arrays.toString(downAttention) + "]";
    }
}
